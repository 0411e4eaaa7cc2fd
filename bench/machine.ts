import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpuModel: string;
  cpus: number;
  ramGiB: number;
  node: string;
  os: string;
  date: string;
}

/** What the numbers were measured on: they mean little without it. */
export function describeMachine(): Machine {
  const cpus = os.cpus();
  let cpuModel = cpus[0]?.model ?? 'unknown';
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() is all there is
  }
  let osName = `${os.type()} ${os.release()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) osName = `${pretty} (${os.type()} ${os.release()})`;
  } catch {
    // keep the kernel's name
  }
  return {
    cpuModel,
    cpus: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: osName,
    date: new Date().toISOString(),
  };
}

/** The machine's CPU time so far, from /proc/stat (in clock ticks): all of it, and the part the hypervisor took (steal). */
export interface CpuTimes {
  total: number;
  steal: number;
}

export function cpuTimes(): CpuTimes | undefined {
  try {
    const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, steal: fields[7] ?? 0 };
  } catch {
    return undefined; // not Linux
  }
}

/**
 * The share of the machine's CPU time the hypervisor gave to others between two readings (steal):
 * on a shared virtual machine the numbers move with it. NaN when it cannot be read.
 */
export function stolenShare(before: CpuTimes | undefined, after: CpuTimes | undefined): number {
  if (!before || !after || after.total <= before.total) return Number.NaN;
  return (after.steal - before.steal) / (after.total - before.total);
}
