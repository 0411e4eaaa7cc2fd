import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { loadYamlFile } from './yaml-file.js';

/*
 * RUNNERS_FILE: the runners the bot accepts, each with its own credential. A token is kept here as
 * its sha256 (`tokenSha256`), or read from a file (`tokenFile`, e.g. a mounted Secret), or given
 * inline (`token`, for tests and small setups). Labels listed here are pinned: a runner that
 * advertises another value for one of them is refused, so a runner's credential cannot claim a host
 * it was not given.
 */

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MIN_TOKEN = 24;

const runnerEntry = z
  .strictObject({
    name: z.string().regex(NAME, `runner names must match ${NAME.source}`),
    token: z.string().min(MIN_TOKEN, `must be at least ${MIN_TOKEN} characters (e.g. openssl rand -hex 24)`).optional(),
    tokenFile: z.string().min(1).optional(),
    tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64 lowercase hex characters of the token\'s sha256').optional(),
    labels: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .refine((r) => [r.token, r.tokenFile, r.tokenSha256].filter((v) => v !== undefined).length === 1, { message: 'give exactly one of token, tokenFile, tokenSha256' });

const runnersFileSchema = z.strictObject({ runners: z.array(runnerEntry).default([]) }).superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.runners.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['runners', i, 'name'], message: `runner "${r.name}" is listed twice` });
    seen.add(r.name);
  });
});

export interface AcceptedRunner {
  name: string;
  /** sha256 of the token, compared in constant time. */
  tokenSha256: Buffer;
  /** Labels this file pins for the runner. */
  labels: Record<string, string>;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The runners a file lists, and the tokens it holds inline (to keep out of output and logs). */
export async function loadRunners(file: string): Promise<{ runners: AcceptedRunner[]; secrets: string[] }> {
  const parsed = await loadYamlFile(file, runnersFileSchema, 'runners file');
  const runners: AcceptedRunner[] = [];
  for (const r of parsed.runners) {
    let digest: Buffer;
    if (r.tokenSha256 !== undefined) digest = Buffer.from(r.tokenSha256, 'hex');
    else if (r.token !== undefined) digest = sha256(r.token);
    else {
      const tokenPath = path.resolve(path.dirname(file), r.tokenFile ?? '');
      let token: string;
      try {
        token = (await readFile(tokenPath, 'utf8')).trim();
      } catch (error) {
        throw new ConfigError(`${file}: runner "${r.name}": cannot read tokenFile ${tokenPath}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (token.length < MIN_TOKEN) throw new ConfigError(`${file}: runner "${r.name}": the token in ${tokenPath} must be at least ${MIN_TOKEN} characters`);
      digest = sha256(token);
    }
    runners.push({ name: r.name, tokenSha256: digest, labels: r.labels });
  }
  return { runners, secrets: parsed.runners.flatMap((r) => (r.token !== undefined ? [r.token] : [])) };
}
