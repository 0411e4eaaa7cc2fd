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
