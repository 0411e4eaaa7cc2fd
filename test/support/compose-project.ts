/**
 * Real compose projects for the compose steps' tests: services of the local busybox image
 * (scripts/docker-test-image.sh) that run `busybox httpd` on a host port (network_mode: host),
 * serve GET /health, and print a line when they start, so a test can see a restart (a new start
 * time), a log line, and a stopped service (no answer).
 *
 *   const docker = await requireDocker();
 *   docker.describe('…', () => {
 *     const p = composeProject({ prefix: 'opentruss', compose: docker.value.compose, ports: { backend: port1, memgraph: port2 } });
 *     await p.up();  … p.state('backend') …  await p.dispose();
 *   });
 */
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './bot-process.js';
import { probeCommand, requireService, type Service } from './services.js';

export const TEST_IMAGE = process.env.COMPOSE_TEST_IMAGE ?? 'chatops-busybox:test';

export interface DockerSetup {
  /** The compose command found (`docker compose` or `docker-compose`). */
  compose: string[];
}

/**
 * A Docker engine that answers, a compose program, and the test image (built here if missing).
 * Under CI a missing piece fails the suite, saying which (see services.ts).
 */
export function requireDocker(): Promise<Service<DockerSetup>> {
  return requireService('a Docker engine, compose and the test image', async () => {
    try {
      await probeCommand(['docker', 'info', '--format', '{{.ServerVersion}}'], 15_000);
    } catch (error) {
      throw new Error(`docker info failed (is dockerd running? .ci/run starts it): ${(error as Error).message}`, { cause: error });
    }
    let compose: string[] | undefined;
    const problems: string[] = [];
    const candidates: [string, ...string[]][] = [['docker', 'compose'], ['docker-compose']];
    for (const candidate of candidates) {
      try {
        await probeCommand([...candidate, 'version'], 15_000);
        compose = candidate;
        break;
      } catch (error) {
        problems.push(`${candidate.join(' ')}: ${(error as Error).message}`);
      }
    }
    if (compose === undefined) throw new Error(`no compose program (install docker-compose or the compose plugin): ${problems.join('; ')}`);
    try {
      await probeCommand([path.join(REPO_ROOT, 'scripts', 'docker-test-image.sh'), TEST_IMAGE], 120_000);
    } catch (error) {
      throw new Error(`the test image ${TEST_IMAGE} could not be built: ${(error as Error).message}`, { cause: error });
    }
    return { compose };
  });
}

export interface ContainerInfo {
  id: string;
  status: string;
  startedAt: string;
}

export interface ComposeProject {
  /** The project directory (the compose file is `file` in it). */
  dir: string;
  file: string;
  /** The project name compose derives from the directory. */
  name: string;
  ports: Record<string, number>;
  /** `up -d` with the given compose command, as an operator would have left the system. */
  up(): Promise<void>;
  /** The service's container (undefined when there is none). */
  state(service: string): Promise<ContainerInfo | undefined>;
  /** GET /health on the service's port: its body, or undefined when nothing answers. */
  health(service: string): Promise<string | undefined>;
  /** Removes every container and network of the project, whatever the test left. */
  dispose(): Promise<void>;
}

/** The name compose gives a project in directory `dir`: its base name, lower case, only [a-z0-9_-]. */
export function projectNameOf(dir: string): string {
  return path.basename(dir).toLowerCase().replace(/[^a-z0-9_-]/gu, '');
}

/** A compose file with one busybox httpd per service, each on its host port. */
export function composeFileText(ports: Record<string, number>): string {
  const services = Object.entries(ports).map(([service, port]) => {
    const script = [
      'mkdir -p /www',
      // $$: compose reads a single $ as its own variable.
      `echo "${service} ok" > /www/health`,
      `echo "${service} listening on ${port} since $$(date +%s)"`,
      `exec httpd -f -v -p 127.0.0.1:${port} -h /www`,
    ].join(' && ');
    // init: the httpd is not PID 1, so `stop` ends it at once instead of after the 10 s grace.
    return [`  ${service}:`, `    image: ${TEST_IMAGE}`, '    network_mode: host', '    init: true', `    command: ["sh", "-c", ${JSON.stringify(script)}]`].join('\n');
  });
  return `version: "2.4"\nservices:\n${services.join('\n')}\n`;
}

async function docker(args: string[]): Promise<string> {
  const r = await execa('docker', args, { reject: false, stdin: 'ignore', timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A project in a fresh directory named `<prefix>-<random>` under `parent` (the OS temp dir by
 * default), so its project name is unique and the test can remove exactly what it made.
 */
export function composeProject(o: { prefix: string; compose: string[]; ports: Record<string, number>; file?: string; parent?: string }): ComposeProject {
  const dir = fs.mkdtempSync(path.join(o.parent ?? os.tmpdir(), `${o.prefix}-`));
  const fileName = o.file ?? 'docker-compose.yml';
  const file = path.join(dir, fileName);
  fs.writeFileSync(file, composeFileText(o.ports));
  const name = projectNameOf(dir);
  const label = `label=com.docker.compose.project=${name}`;
  const [program = 'docker', ...rest] = o.compose;
  return {
    dir,
    file,
    name,
    ports: o.ports,
    async up() {
      const r = await execa(program, [...rest, '-f', file, 'up', '-d'], { cwd: dir, reject: false, stdin: 'ignore', all: true, timeout: 120_000 });
      if (r.exitCode !== 0) throw new Error(`compose up failed: ${r.all}`);
    },
    async state(service) {
      const ids = (await docker(['ps', '-a', '-q', '--filter', label, '--filter', `label=com.docker.compose.service=${service}`])).split(/\s+/u).filter(Boolean);
      if (ids.length === 0) return undefined;
      const [info] = JSON.parse(await docker(['inspect', '--type', 'container', ...ids])) as Array<{ Id: string; State: { Status: string; StartedAt: string } }>;
      return info ? { id: info.Id, status: info.State.Status, startedAt: info.State.StartedAt } : undefined;
    },
    async health(service) {
      try {
        const res = await fetch(`http://127.0.0.1:${o.ports[service]}/health`, { signal: AbortSignal.timeout(3000) });
        return res.ok ? (await res.text()).trim() : undefined;
      } catch {
        return undefined;
      }
    },
    async dispose() {
      const ids = (await docker(['ps', '-a', '-q', '--filter', label]).catch(() => '')).split(/\s+/u).filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
      const networks = (await docker(['network', 'ls', '-q', '--filter', label]).catch(() => '')).split(/\s+/u).filter(Boolean);
      if (networks.length > 0) await docker(['network', 'rm', ...networks]).catch(() => '');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Containers of projects whose name starts with `prefix` (what a test must not leave behind). */
export async function containersOf(prefix: string): Promise<string[]> {
  const out = await docker(['ps', '-a', '--format', '{{.Label "com.docker.compose.project"}} {{.Names}}']);
  return out
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.split(' ')[1] ?? line);
}
