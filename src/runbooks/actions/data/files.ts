import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, lstat, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { ActionError } from './common.js';

/*
 * File work done in Node rather than by a program: hashing, gzip and its round-trip check, small
 * reads of a file's head or tail. Every stream honours the step's signal, and files are created
 * with `wx` (never over an existing file) and flushed to disk before they are closed.
 */

/** The file's stats, or undefined when nothing is there. Other errors (EACCES, ENOTDIR) throw. */
export async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** A pass-through stream that hashes and counts what flows through it. */
function hashingTap() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/** A sink that only hashes and counts. */
function hashingSink() {
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
      bytes += chunk.length;
      done();
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), bytes, head }) };
}

export interface Digest {
  sha256: string;
  bytes: number;
}

export async function sha256File(file: string, signal: AbortSignal): Promise<Digest> {
  const sink = hashingSink();
  await pipeline(createReadStream(file), sink.stream, { signal });
  const { sha256, bytes } = sink.digest();
  return { sha256, bytes };
}

/** Compresses `source` into a new file `target`; returns the digest of the uncompressed bytes. */
export async function gzipFile(source: string, target: string, signal: AbortSignal): Promise<Digest> {
  const tap = hashingTap();
  await pipeline(createReadStream(source), tap.stream, createGzip({ level: 6 }), createWriteStream(target, { flags: 'wx', flush: true }), { signal });
  return tap.digest();
}

/** Decompresses `source` into a new file `target`; returns the digest of the uncompressed bytes. */
export async function gunzipFile(source: string, target: string, signal: AbortSignal): Promise<Digest> {
  const tap = hashingTap();
  await pipeline(createReadStream(source), createGunzip(), tap.stream, createWriteStream(target, { flags: 'wx', flush: true }), { signal });
  return tap.digest();
}

/** Decompresses to nowhere: the digest and first bytes of the content (throws on a damaged gzip). */
export async function gunzipDigest(source: string, signal: AbortSignal): Promise<Digest & { head: Buffer }> {
  const sink = hashingSink();
  await pipeline(createReadStream(source), createGunzip(), sink.stream, { signal });
  return sink.digest();
}

/**
 * Checks that a gzip file decompresses to exactly the bytes that were compressed (same length and
 * SHA-256): a truncated or corrupted write cannot pass.
 */
export async function verifyGzipRoundTrip(gz: string, original: Digest, signal: AbortSignal): Promise<Buffer> {
  let back: Digest & { head: Buffer };
  try {
    back = await gunzipDigest(gz, signal);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ActionError(`the compressed file does not decompress: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (back.bytes !== original.bytes || back.sha256 !== original.sha256) {
    throw new ActionError(`the compressed file does not decompress to the original (${back.bytes} bytes, expected ${original.bytes})`);
  }
  return back.head;
}

/**
 * Decompresses a gzip file into memory, refusing content larger than `maxBytes` (the stream is
 * stopped as soon as the bound is crossed, so a huge file is never held whole).
 */
export async function gunzipToBuffer(source: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        done(new ActionError(`the backup decompresses to more than ${Math.round(maxBytes / 1024 / 1024)} MiB, the most this action restores through the client's stdin`));
        return;
      }
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(createReadStream(source), createGunzip(), sink, { signal });
  return Buffer.concat(chunks);
}

export async function readHead(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function readTail(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - length);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries (a rename is durable only once its directory is synced). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
  } finally {
    await handle.close();
  }
}

/** Gives `file` the mode and (when permitted) the owner of `like`, e.g. a restored database the service must read. */
export async function copyOwnership(file: string, like: Stats): Promise<void> {
  await chmod(file, like.mode & 0o7777);
  try {
    await chown(file, like.uid, like.gid);
  } catch {
    // Not running as root: the file stays ours, which is what we could write anyway.
  }
}

/** Counts the lines of a file without holding it in memory (a `pg_restore --list` or `tar -t` listing). */
export async function countLines(file: string, signal: AbortSignal, accept: (line: string) => boolean = () => true): Promise<number> {
  let count = 0;
  let rest = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (accept(line)) count++;
      done();
    },
  });
  await pipeline(createReadStream(file), sink, { signal });
  if (rest !== '' && accept(rest)) count++;
  return count;
}

/** Scans a file line by line (for facts such as CREATE TABLE counts) without holding it in memory. */
export async function scanLines(file: string, signal: AbortSignal, visit: (line: string) => void): Promise<void> {
  await countLines(file, signal, (line) => {
    visit(line);
    return false;
  });
}
