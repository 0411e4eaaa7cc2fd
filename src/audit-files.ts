/**
 * The audit key and the seal file on disk (see src/core/audit-seal.ts): both outside the database,
 * so that a copy, a dump or a rewrite of the database holds neither.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AuditSealConfig } from './settings/config.js';
import { sealLineSchema, sealMac, type SealKey, type SealLine } from './core/audit-seal.js';
import type { SealLog } from './core/audit-sealer.js';

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** The key from a key file; undefined when the file does not exist. */
export async function readKeyFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new Error(`cannot read the audit key file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const key = text.trim();
  if (key.length < 32) throw new Error(`the audit key file ${file} holds no key (at least 32 characters expected)`);
  return key;
}

/**
 * AUDIT_KEY, else the key file, else a new random key written to the key file (mode 0600, never
 * overwritten: two replicas starting at once on one folder end up with the same key).
 */
export async function loadOrCreateAuditKey(config: AuditSealConfig): Promise<{ key: string; source: 'environment' | 'file' | 'generated' }> {
  if (config.key !== undefined) return { key: config.key, source: 'environment' };
  const existing = await readKeyFile(config.keyFile);
  if (existing !== undefined) return { key: existing, source: 'file' };
  await fs.mkdir(path.dirname(config.keyFile), { recursive: true });
  // Written aside, then linked into place: the key file never exists half-written, and a link
  // onto an existing file fails, so of two processes starting at once the second reads the first's key.
  const aside = `${config.keyFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(aside, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    await fs.link(aside, config.keyFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the audit key file ${config.keyFile}: ${(error as Error).message}`, { cause: error });
  } finally {
    await fs.rm(aside, { force: true });
  }
  const key = await readKeyFile(config.keyFile);
  if (key === undefined) throw new Error(`the audit key file ${config.keyFile} vanished right after it was written`);
  return { key, source: 'generated' };
}

export interface SealFileContents {
  /** Lines that parse and whose MAC and link to the previous line verify, up to the first that does not. */
  lines: SealLine[];
  /** What is wrong with the file, one message per problem (line numbers from 1). */
  problems: string[];
}

/**
 * Reads and checks a seal file: every line is JSON of the right shape, numbered from 1, linked to
 * the previous line's MAC, and MACed with this key. Lines after the first bad one are not trusted.
 */
export function parseSealFile(text: string, key: SealKey): SealFileContents {
  const lines: SealLine[] = [];
  const problems: string[] = [];
  const raw = text.split('\n');
  if (raw.at(-1) === '') raw.pop();
  let prev = '';
  for (const [index, content] of raw.entries()) {
    const number = index + 1;
    let parsed: SealLine;
    try {
      parsed = sealLineSchema.parse(JSON.parse(content));
    } catch {
      problems.push(`line ${number} is not a seal line (edited, or the file was cut mid-line)`);
      break;
    }
    if (parsed.mac !== sealMac(key, parsed)) {
      problems.push(`line ${number} does not verify with the audit key (edited or forged, or the key changed)`);
      break;
    }
    if (parsed.seq !== number || parsed.prev !== prev) {
      problems.push(`line ${number} is seal ${parsed.seq} and does not follow line ${number - 1} (seal lines removed, reordered or copied)`);
      break;
    }
    lines.push(parsed);
    prev = parsed.mac;
  }
  return { lines, problems };
}

/** The seal file's text, or undefined when it does not exist. */
export async function readSealFile(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new Error(`cannot read the audit seal file ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Appends seal lines and syncs them to disk before resolving. */
export class SealFile implements SealLog {
  private constructor(private readonly file: string) {}

  /** Creates the file when missing (empty), so that a seal file deleted later is noticed. */
  static async open(file: string): Promise<SealFile> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await (await fs.open(file, 'a', 0o600)).close();
    return new SealFile(file);
  }

  async append(lines: readonly SealLine[]): Promise<void> {
    if (lines.length === 0) return;
    const handle = await fs.open(this.file, 'a', 0o600);
    try {
      await handle.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
