import type { IncomingMessage } from 'node:http';
import { InputError } from '../domain/errors.js';

/**
 * Reads a request body up to `limit` bytes. A larger body is refused as soon as it is known to be
 * too large (from Content-Length, or while streaming), without buffering the rest.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new InputError('body_too_large', `request body exceeds the limit of ${limit} bytes`, 413);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
