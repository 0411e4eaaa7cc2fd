import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedactor } from '../../../src/domain/redact.js';
import { loadRunbooks } from '../../../src/runbooks/loader.js';
import { resolveParams, runStep, type Runbook } from '../../../src/runbooks/index.js';
import { probeRedis, requireService } from '../../support/services.js';

/*
 * The IM suite's "Redis memory (INFO memory)" step, as shipped, against real Redis: INFO memory is
 * some 50 lines, more than a thread shows, and used_memory and maxmemory sit at its start and in
 * its middle. The thread keeps them (the step's `keep:`), marks each cut, and the whole output is
 * kept for the output route. The step runs `docker exec <container> redis-cli INFO memory`; a
 * `docker` on PATH that drops `exec -e REDISCLI_AUTH <container>` points the real redis-cli at
 * 127.0.0.1:6379.
 */
const redis = await requireService('Redis at 127.0.0.1:6379', () => probeRedis());

redis.describe('INFO memory in a thread (real Redis)', () => {
  let bin: string;
  let runbook: Runbook;

  beforeAll(async () => {
    bin = await mkdtemp(path.join(os.tmpdir(), 'redis-info-'));
    await writeFile(path.join(bin, 'docker'), `#!/bin/sh\n[ "$1" = exec ] || exit 64\nshift 4\nprog="$1"\nshift\nexec "$prog" -h ${redis.value.host} -p ${redis.value.port} "$@"\n`);
    await chmod(path.join(bin, 'docker'), 0o755);
    const found = (await loadRunbooks(path.resolve('manifests/runbooks'))).find((r) => r.name === 'im-suite-memory');
    if (!found) throw new Error('im-suite-memory is not shipped');
    runbook = found;
  });
  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
  });

  it('keeps used_memory and maxmemory in the head/tail the thread shows, the cuts marked, and the whole output apart', async () => {
    const step = runbook.steps.find((s) => s.id === 'redis-memory');
    const params = resolveParams(runbook, {});
    if (!step || !params.ok) throw new Error('redis-memory does not resolve');
    const result = await runStep(step, params.params, { signal: new AbortController().signal, redact: createRedactor([]), env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(result.status, result.summary).toBe('succeeded');

    const full = result.output ?? '';
    const fullLines = full.split('\n');
    expect(fullLines.length).toBeGreaterThan(20);
    const usedMemory = fullLines.find((l) => l.startsWith('used_memory:'));
    const maxMemory = fullLines.find((l) => l.startsWith('maxmemory:'));
    expect(usedMemory).toMatch(/^used_memory:\d+$/);
    expect(maxMemory).toMatch(/^maxmemory:\d+$/);
    // maxmemory is past the first lines and before the last ones: only `keep:` brings it in.
    const maxAt = fullLines.indexOf(maxMemory!);
    expect(maxAt).toBeGreaterThan(5);
    expect(maxAt).toBeLessThan(fullLines.length - 12);

    const shown = result.outputTail.split('\n');
    expect(shown).toContain(usedMemory);
    expect(shown).toContain(maxMemory);
    expect(shown.some((l) => l.startsWith('maxmemory_policy:'))).toBe(true);
    expect(shown[0]).toBe('# Memory');
    expect(shown.at(-1)).toBe(fullLines.at(-1));
    // Every gap is marked with how many lines it hides, and the marks add up to what is not shown.
    const marks = shown.filter((l) => /^… \d+ lines? cut …$/.test(l));
    expect(marks.length).toBeGreaterThan(0);
    const hidden = marks.reduce((n, l) => n + Number(/\d+/.exec(l)?.[0]), 0);
    expect(hidden + shown.length - marks.length).toBe(fullLines.length);
    expect([...result.outputTail].length).toBeLessThanOrEqual(1500);
  });
});
