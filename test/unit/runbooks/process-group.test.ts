import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStep, type RunbookStep } from '../../../src/runbooks/index.js';
import type { StepProcess } from '../../../src/runbooks/actions/process-group.js';
import { context, runbookWith, useTempDirs } from './helpers.js';
import { alive } from '../../support/processes.js';

/**
 * Exec steps with real processes: each runs in a process group of its own, handed to the caller
 * (the executor records it) before the program runs, and cancelled as a whole group.
 */
const tempDir = useTempDirs();

function shellStep(script: string, timeoutSeconds = 30): RunbookStep {
  const runbook = runbookWith('  {}', `  - ${JSON.stringify({ id: 'step', title: 'Step', action: 'exec', run: ['sh', '-c', script], timeoutSeconds })}`);
  const [step] = runbook.steps;
  if (!step) throw new Error('no step');
  return step;
}

const statOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

describe('exec steps in a process group of their own', () => {
  it('hands over the pid, group and start time before the program runs anything', async () => {
    const dir = await tempDir();
    const marker = path.join(dir, 'ran');
    const seen: Array<StepProcess & { ranYet: boolean; pgrp: string; starttime: string }> = [];
    const ctx = {
      ...context(),
      onSpawn: async (p: StepProcess) => {
        // Give a program that had started anyway time to write its marker.
        await new Promise((r) => setTimeout(r, 200));
        const fields = statOf(p.pid);
        seen.push({ ...p, ranYet: existsSync(marker), pgrp: fields[2] ?? '', starttime: fields[19] ?? '' });
      },
    };
    const result = await runStep(shellStep(`echo $$ > ${marker}`), {}, ctx);
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(seen).toHaveLength(1);
    const [p] = seen;
    expect(p?.ranYet).toBe(false);
    // Its own group (it leads it), and the same process that then ran the program.
    expect(p?.pgid).toBe(p?.pid);
    expect(p?.pgrp).toBe(String(p?.pid));
    expect(Number(readFileSync(marker, 'utf8'))).toBe(p?.pid);
    expect(p?.startedAt.endsWith(`:${p.starttime}`)).toBe(true);
    expect(p?.startedAt.startsWith(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())).toBe(true);
  });

  it('never runs the program when it could not be recorded', async () => {
    const dir = await tempDir();
    const marker = path.join(dir, 'ran');
    const ctx = { ...context(), onSpawn: () => Promise.reject(new Error('the store is unavailable')) };
    const result = await runStep(shellStep(`touch ${marker}`), {}, ctx);
    expect(result).toMatchObject({ status: 'failed', summary: 'step could not run: the store is unavailable' });
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(marker)).toBe(false);
  });

  it('still says a missing program could not start', async () => {
    const ctx = { ...context(), onSpawn: () => Promise.resolve() };
    const runbook = runbookWith('  {}', `  - ${JSON.stringify({ id: 'step', title: 'Step', action: 'exec', run: ['definitely-not-a-program-3141'] })}`);
    const result = await runStep(runbook.steps[0] as RunbookStep, {}, ctx);
    expect(result).toMatchObject({ status: 'failed', summary: 'could not start "definitely-not-a-program-3141": ENOENT' });
  });

  for (const how of ['cancelled', 'timed out'] as const) {
    it(`kills the background children too when ${how}`, async () => {
      const dir = await tempDir();
      const pidFile = path.join(dir, 'child.pid');
      const controller = new AbortController();
      const running = runStep(shellStep(`sleep 30 & echo $! > ${pidFile}; wait`, how === 'timed out' ? 1 : 30), {}, context(undefined, controller.signal));
      const deadline = Date.now() + 5000;
      while (!(existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const child = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(child)).toBe(true);
      if (how === 'cancelled') controller.abort();
      const result = await running;
      expect(result.status).toBe(how === 'cancelled' ? 'failed' : 'timed_out');
      expect(alive(child), 'the background child after the step ended').toBe(false);
    });
  }
});
