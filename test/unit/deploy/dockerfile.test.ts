import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../../src/settings/config.js';
import { ROOT, schemaKeys } from './deploy-kit.js';

/*
 * The Dockerfile, checked statically (no Docker engine is needed): a multi-stage build whose
 * runtime stage runs as a non-root user with a health check, starts the file the TypeScript build
 * actually emits, only uses npm scripts that exist, copies only what exists and is not ignored,
 * and sets only variables the bot knows, with values it accepts.
 */

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined, keywords upper-cased. */
function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*#/.test(raw)) return; // comments (and parser directives), also inside continuations
    if (pending === undefined && raw.trim() === '') return;
    const continued = /\\\s*$/.test(raw);
    const part = raw.replace(/\\\s*$/, '');
    pending = pending ? { text: `${pending.text} ${part.trim()}`, line: pending.line } : { text: part.trim(), line: i + 1 };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text);
    if (match?.[1]) result.push({ keyword: match[1].toUpperCase(), args: (match[2] ?? '').trim(), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`Dockerfile ends inside a continued line (line ${pending.line})`);
  return result;
}

function stages(list: Instruction[]): Stage[] {
  const result: Stage[] = [];
  for (const instruction of list) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match?.[1]) throw new Error(`line ${instruction.line}: unreadable FROM ${instruction.args}`);
      result.push({ base: match[1], name: match[2], instructions: [] });
    } else if (result.length > 0) {
      result.at(-1)?.instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  return result;
}

/** The exec (JSON array) form of CMD, ENTRYPOINT or HEALTHCHECK CMD. */
function execForm(args: string): string[] {
  return z.array(z.string()).min(1).parse(JSON.parse(args));
}

/** `ENV A=1 B="two words"` (or the legacy `ENV A value`) as pairs. */
function envPairs(args: string): [string, string][] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const [name = '', ...rest] = args.split(/\s+/);
    return [[name, rest.join(' ')]];
  }
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)].map((m) => [
    m[1] ?? '',
    (m[2] ?? '').replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'),
  ]);
}

/** Options after COPY: `--from=build`, `--chown=...`; then sources and the destination. */
function copyParts(args: string): { from: string | undefined; sources: string[]; destination: string } {
  const words = args.startsWith('[') ? execForm(args) : args.split(/\s+/);
  const options = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = options.find((o) => o.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' };
}

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const all = instructions(dockerfile);
const stageList = stages(all);
const runtime = (): Stage => {
  const last = stageList.at(-1);
  if (!last) throw new Error('no FROM in the Dockerfile');
  return last;
};
const build = (): Stage => {
  const first = stageList[0];
  if (!first) throw new Error('no FROM in the Dockerfile');
  return first;
};
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runText = (stage: Stage) => of(stage, 'RUN').map((i) => i.args);
const packageJson = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')));
const runtimeEnv = () => Object.fromEntries(of(runtime(), 'ENV').flatMap((i) => envPairs(i.args)));

/** What `npm run build` emits for src/main.ts, relative to the repository, from tsconfig.build.json. */
function emittedEntryPoint(): { entry: string; outDir: string; rootDir: string; config: ts.ParsedCommandLine } {
  const file = path.join(ROOT, 'tsconfig.build.json');
  const read = ts.readConfigFile(file, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const config = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, file);
  const { outDir, rootDir } = config.options;
  if (!outDir || !rootDir) throw new Error('tsconfig.build.json must set outDir and rootDir');
  const emitted = path.join(outDir, path.relative(rootDir, path.join(ROOT, 'src', 'main.ts'))).replace(/\.ts$/, '.js');
  return { entry: path.relative(ROOT, emitted).split(path.sep).join('/'), outDir: path.relative(ROOT, outDir), rootDir: path.relative(ROOT, rootDir) || '.', config };
}

/** The .dockerignore patterns (comments and blank lines dropped). */
function dockerignore(): string[] {
  return readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Whether .dockerignore excludes a context path (top-level names and `*.ext` patterns; `!` re-includes). */
function ignored(source: string): boolean {
  const first = source.replace(/^\.\//, '').split('/')[0] ?? '';
  let result = false;
  for (const pattern of dockerignore()) {
    const negated = pattern.startsWith('!');
    const body = pattern.replace(/^!/, '').replace(/^\//, '').replace(/\/$/, '');
    const regex = new RegExp(`^${body.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    if (regex.test(first) || regex.test(source)) result = !negated;
  }
  return result;
}

describe('Dockerfile', () => {
  it('is a multi-stage build on node:20-bookworm-slim', () => {
    expect(stageList.length).toBeGreaterThanOrEqual(2);
    for (const stage of stageList) expect(stage.base).toBe('node:20-bookworm-slim');
    expect(build().name, 'the build stage is named').toBeDefined();
    // The runtime copies its build output from an earlier stage rather than building itself.
    const fromStages = of(runtime(), 'COPY')
      .map((i) => copyParts(i.args).from)
      .filter((f): f is string => f !== undefined);
    expect(fromStages.length).toBeGreaterThan(0);
    for (const from of fromStages) expect(stageList.slice(0, -1).map((s) => s.name)).toContain(from);
    expect(runText(runtime()).join('\n')).not.toMatch(/npm (ci|install|run build)/);
  });

  it('builds with npm ci, npm run build and npm prune --omit=dev, with a toolchain for better-sqlite3', () => {
    const text = runText(build()).join('\n');
    expect(text).toMatch(/npm ci\b/);
    expect(text).toMatch(/npm run build\b/);
    expect(text).toMatch(/npm prune --omit=dev\b/);
    for (const tool of ['python3', 'make', 'g++']) expect(text.split(/\s+/)).toContain(tool);
    // npm ci needs the lockfile next to package.json.
    const copied = of(build(), 'COPY').flatMap((i) => copyParts(i.args).sources);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
  });

  it('uses only npm scripts that package.json defines', () => {
    const used = [...dockerfile.matchAll(/npm run(?:-script)?\s+([A-Za-z0-9:_-]+)/g)].map((m) => m[1] ?? '');
    expect(used.length).toBeGreaterThan(0);
    const missing = used.filter((name) => packageJson.scripts[name] === undefined);
    expect(missing, `npm scripts the Dockerfile runs that package.json lacks: ${missing.join(', ')}`).toEqual([]);
  });

  it('starts the file the TypeScript build emits (tsconfig.build.json: outDir dist, rootDir .)', () => {
    const { entry, outDir, rootDir, config } = emittedEntryPoint();
    expect(outDir).toBe('dist');
    expect(rootDir).toBe('.');
    expect(entry).toBe('dist/src/main.js');
    expect(config.fileNames.map((f) => path.relative(ROOT, f).split(path.sep).join('/'))).toContain('src/main.ts');
    const cmd = of(runtime(), 'CMD');
    expect(cmd).toHaveLength(1);
    expect(execForm(cmd[0]?.args ?? '')).toEqual(['node', entry]);
    // npm start runs the same file through the quick-start launcher (demo/quick-start.mjs).
    expect(readFileSync(path.join(ROOT, 'demo/quick-start.mjs'), 'utf8')).toContain(`path.join(root, ${entry.split('/').map((p) => `'${p}'`).join(', ')})`);
    // The runtime stage's working directory holds the copied dist folder.
    const workdir = of(runtime(), 'WORKDIR').at(-1)?.args;
    expect(workdir).toBe('/app');
    const distCopy = of(runtime(), 'COPY')
      .map((i) => copyParts(i.args))
      .find((c) => c.sources.some((s) => s.replace(/\/$/, '').endsWith(`/${outDir}`)));
    expect(distCopy?.destination.replace(/\/$/, '')).toMatch(new RegExp(`^(\\./|/app/)${outDir}$`));
    // An ENTRYPOINT, when there is one, is an init (exec form) that runs the CMD.
    for (const entrypoint of of(runtime(), 'ENTRYPOINT')) expect(execForm(entrypoint.args).at(-1)).toBe('--');
  });

  it('copies into the build stage everything tsconfig.build.json compiles', () => {
    const copied = of(build(), 'COPY').flatMap((i) => copyParts(i.args).sources.map((s) => s.replace(/^\.\//, '').replace(/\/$/, '')));
    expect(copied).toEqual(expect.arrayContaining(['tsconfig.build.json', 'tsconfig.json', 'src']));
    const { config } = emittedEntryPoint();
    const outside = config.fileNames
      .map((f) => path.relative(ROOT, f).split(path.sep).join('/'))
      .filter((f) => !copied.some((c) => f === c || f.startsWith(`${c}/`)));
    expect(outside, 'files the build compiles but the Dockerfile does not copy').toEqual([]);
  });

  it('copies only files that exist in the context and are not excluded by .dockerignore', () => {
    for (const stage of stageList) {
      for (const copy of [...of(stage, 'COPY'), ...of(stage, 'ADD')].map((i) => copyParts(i.args))) {
        if (copy.from !== undefined) continue;
        for (const source of copy.sources) {
          expect(existsSync(path.join(ROOT, source)), `${source} exists`).toBe(true);
          expect(ignored(source), `${source} is not in .dockerignore`).toBe(false);
        }
      }
    }
  });

  it('.dockerignore keeps dependencies, build output, local data, history and secrets out of the context', () => {
    const patterns = dockerignore().map((p) => p.replace(/^\//, '').replace(/\/$/, ''));
    expect(patterns).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', 'test-output', '.git', 'coverage', '.env']));
    for (const kept of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'manifests']) expect(ignored(kept), kept).toBe(false);
  });

  it('installs the CLIs the typed actions use, without recommends, and cleans the apt lists', () => {
    const installs = runText(runtime()).filter((t) => /apt-get install/.test(t));
    expect(installs.length).toBeGreaterThan(0);
    const packages = installs.join(' ').split(/\s+/);
    for (const name of ['sqlite3', 'postgresql-client', 'mariadb-client', 'redis-tools', 'tar', 'ca-certificates']) expect(packages).toContain(name);
    for (const stage of stageList) {
      for (const text of runText(stage).filter((t) => /apt-get install/.test(t))) {
        expect(text).toContain('--no-install-recommends');
        expect(text).toMatch(/apt-get update/);
        expect(text).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
      }
    }
  });

  it('runs as the non-root user 10001, which owns only the /data volume', () => {
    const users = of(runtime(), 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)?.args.split(':')[0] ?? '';
    expect(['root', '0', '']).not.toContain(user);
    expect(user).toBe('10001');
    const text = runText(runtime()).join('\n');
    expect(text).toMatch(/useradd[^\n]*--uid 10001[^\n]*chatops/);
    expect(text).toMatch(/chown [^\n]*chatops[^\n]* \/data/);
    const volumes = of(runtime(), 'VOLUME').flatMap((i) => (i.args.startsWith('[') ? execForm(i.args) : i.args.split(/\s+/)));
    expect(volumes).toContain('/data');
    // USER comes after every RUN of the runtime stage (nothing after it needs root).
    const index = (i: Instruction) => runtime().instructions.indexOf(i);
    const lastRun = of(runtime(), 'RUN').at(-1);
    if (lastRun) expect(index(users.at(-1) as Instruction)).toBeGreaterThan(index(lastRun));
  });

  it('checks /healthz with node\'s fetch (no curl or wget in the image)', () => {
    const checks = of(runtime(), 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const args = checks[0]?.args ?? '';
    const command = /\bCMD\s+(\[.*\])\s*$/.exec(args)?.[1];
    expect(command, 'HEALTHCHECK ... CMD [exec form]').toBeDefined();
    const argv = execForm(command ?? '');
    expect(argv[0]).toBe('node');
    const script = argv.join(' ');
    expect(script).toContain('fetch(');
    expect(script).toContain('/healthz');
    expect(script).toMatch(/process\.env\.PORT/);
    expect(script).not.toMatch(/\b(curl|wget)\b/);
  });

  it('sets only variables the bot knows, with values it accepts, and exposes the port it listens on', () => {
    const env = runtimeEnv();
    const known = [...schemaKeys(), 'NODE_ENV'];
    expect(Object.keys(env).filter((name) => !known.includes(name))).toEqual([]);
    expect(env).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0', PORT: '3000', DATABASE_URL: 'sqlite:/data/bot.db' });
    const config = loadConfig(env);
    expect(of(runtime(), 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.replace(/\/tcp$/, '')))).toContain(String(config.port));
    expect(config.database.kind === 'sqlite' && path.posix.dirname(config.database.path)).toBe('/data');
    // Runbooks ship in the image and RUNBOOKS_DIR (or its relative default) points at them.
    const manifestsCopy = of(runtime(), 'COPY')
      .map((i) => copyParts(i.args))
      .find((c) => c.from === undefined && c.sources.includes('manifests'));
    expect(manifestsCopy).toBeDefined();
    expect(config.runbooksDirs.map((dir) => path.posix.resolve('/app', dir))).toEqual(['/app/manifests/runbooks']);
  });
});
