import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Architecture rules the README promises, checked on the syntax tree of the sources. Arrows point
 * down only: main → app → settings → handlers/bot → core (through its use cases) → core/ports →
 * store/runbooks implement or sit below the ports → domain.
 * - `src/core` imports no chat SDK or database driver, nothing of `src/store`, `src/bot`,
 *   `src/handlers` or the composition root, and `src/runbooks` only through `src/core/ports`;
 *   the settings files it reads only as types.
 * - `src/store` implements the store port: from the core it imports only `core/domain.ts` and
 *   `core/ports`, and nothing of the adapters or the runbooks.
 * - `src/runbooks` is a lower layer: it imports nothing of `src` but `src/domain`, its files import
 *   each other without a circle, and everything else enters it through `src/runbooks/index.ts`.
 * - `src/domain` imports nothing of `src`.
 * - The adapters (`src/bot`, `src/handlers`) use the core through its use cases, not the Engine class.
 * - The runner agent (`src/runner.ts`, `src/runner/`) runs on target hosts without the bot: it uses
 *   the runbooks, the runner protocol (`src/runners`), `src/domain` and the logger, nothing else.
 * - only the entry points, the configuration and the composition root read the environment.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = path.join(ROOT, 'src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.isFile() && entry.name.endsWith('.ts') ? [full] : [];
  });
}

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');

interface ImportRef {
  file: string;
  line: number;
  specifier: string;
  /** Erased at compile time: `import type`, `export type`, or every named binding marked `type`. */
  typeOnly: boolean;
}

function parse(file: string, text = fs.readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  ts.forEachChild(node, (child) => walk(child, visit));
}

const lineOf = (source: ts.SourceFile, node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;

/** Static imports and re-exports, `import()`, `require()` and `import x = require()`. */
function importsOf(source: ts.SourceFile): ImportRef[] {
  const file = source.fileName;
  const refs: ImportRef[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) refs.push({ file, line: lineOf(source, node), specifier: specifier.text, typeOnly });
  };
  walk(source, (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const allNamedAreTypes = clause !== undefined && clause.name === undefined && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier, clause?.isTypeOnly === true || allNamedAreTypes);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node, node.moduleSpecifier, node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node)) {
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if (isDynamicImport || isRequire) add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      // `import('x').T` in a type position is erased, like a type-only import.
      add(node, node.argument.literal, true);
    }
  });
  return refs;
}

/** Reads of the environment: `process.env`, `process['env']`, `const { env } = process`, also through `globalThis.process`. */
function envReadsOf(source: ts.SourceFile): string[] {
  const isProcess = (e: ts.Expression): boolean =>
    (ts.isIdentifier(e) && e.text === 'process') ||
    (ts.isPropertyAccessExpression(e) && e.name.text === 'process' && ts.isIdentifier(e.expression) && e.expression.text === 'globalThis');
  const hits: string[] = [];
  const hit = (node: ts.Node) => hits.push(`${rel(source.fileName)}:${lineOf(source, node)}: ${node.getText(source).slice(0, 80)}`);
  walk(source, (node) => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) hit(node);
    else if (ts.isElementAccessExpression(node) && isProcess(node.expression) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'env') hit(node);
    else if (
      ts.isVariableDeclaration(node) &&
      node.initializer !== undefined &&
      isProcess(node.initializer) &&
      ts.isObjectBindingPattern(node.name) &&
      node.name.elements.some((e) => (e.propertyName ?? e.name).getText(source) === 'env')
    )
      hit(node);
  });
  return hits;
}

const FORBIDDEN_PACKAGES = [/^@slack\//, /^discord\.js($|\/)/, /^@discordjs\//, /^better-sqlite3($|\/)/, /^pg($|\/)/];

const under = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`);

/** The file an import names (as `src/...` with the `.js` the sources write), or undefined for a package. */
function targetOf(ref: ImportRef): string | undefined {
  const spec = ref.specifier;
  if (!spec.startsWith('.') && !spec.startsWith('/')) return undefined;
  return rel(path.resolve(path.dirname(ref.file), spec));
}

/** Why this import breaks a layering rule, or undefined when it is fine. */
function violation(ref: ImportRef): string | undefined {
  const from = rel(ref.file);
  const target = targetOf(ref);
  if (target === undefined) {
    const inLowerLayer = ['src/core', 'src/runbooks', 'src/domain'].some((d) => under(from, d));
    return inLowerLayer && FORBIDDEN_PACKAGES.some((re) => re.test(ref.specifier)) ? `imports the package ${ref.specifier}` : undefined;
  }
  if (under(from, 'src/domain')) {
    return under(target, 'src') && !under(target, 'src/domain') ? `imports ${target} (src/domain imports nothing of src)` : undefined;
  }
  if (under(from, 'src/runbooks')) {
    return under(target, 'src') && !under(target, 'src/runbooks') && !under(target, 'src/domain') ? `imports ${target} (runbooks may import only src/domain)` : undefined;
  }
  if (under(target, 'src/runbooks') && target !== 'src/runbooks/index.js') {
    return `imports ${target} (enter the runbooks through src/runbooks/index.ts)`;
  }
  if (under(from, 'src/runner') || from === 'src/runner.ts') {
    const allowed = ['src/runner', 'src/runners', 'src/runbooks', 'src/domain'].some((d) => under(target, d)) || target === 'src/logger.js';
    return allowed ? undefined : `imports ${target} (the runner uses only the runbooks, the runner protocol, src/domain and the logger)`;
  }
  if (under(from, 'src/core')) {
    if (under(target, 'src/bot')) return `imports the chat adapter ${target}`;
    if (under(target, 'src/store')) return `imports the store ${target} (use the port in src/core/ports)`;
    if (under(target, 'src/runbooks') && !under(from, 'src/core/ports')) return `imports ${target} (only src/core/ports reaches the runbooks)`;
    if (['src/handlers', 'src/alertmanager', 'src/cli', 'src/http'].some((d) => under(target, d)) || target === 'src/app.js' || target === 'src/main.js') return `imports ${target}, a layer above the core`;
    if (under(target, 'src/settings') && !ref.typeOnly) return `imports ${target} as a value (the core reads the settings only as types)`;
    return undefined;
  }
  if (under(from, 'src/store')) {
    if (under(target, 'src/core') && target !== 'src/core/domain.js' && !under(target, 'src/core/ports')) return `imports ${target} (the store sees only core/domain.ts and core/ports)`;
    if (['src/bot', 'src/handlers', 'src/runbooks'].some((d) => under(target, d))) return `imports ${target}`;
    return undefined;
  }
  if (under(from, 'src/bot') || under(from, 'src/handlers')) {
    return target === 'src/core/engine.js' || target === 'src/core/runtime.js' ? `imports ${target} (adapters use the core through core/use-cases.ts)` : undefined;
  }
  return undefined;
}

const violationsIn = (source: ts.SourceFile) =>
  importsOf(source)
    .map((ref) => ({ ref, why: violation(ref) }))
    .filter((x): x is { ref: ImportRef; why: string } => x.why !== undefined)
    .map(({ ref, why }) => `${rel(ref.file)}:${ref.line} ${why}`);

/** Import circles among `files` (type imports included), each as the chain of files. */
function circles(files: string[]): string[] {
  const graph = new Map(files.map((f) => [rel(f), importsOf(parse(f)).map(targetOf).filter((t): t is string => t !== undefined).map((t) => t.replace(/\.js$/, '.ts'))]));
  const found: string[] = [];
  const done = new Set<string>();
  const visit = (node: string, stack: string[]) => {
    const at = stack.indexOf(node);
    if (at >= 0) {
      found.push([...stack.slice(at), node].join(' -> '));
      return;
    }
    if (done.has(node) || !graph.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...stack, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

describe('architecture boundaries', () => {
  const allFiles = tsFiles(SRC);
  const coreFiles = [...tsFiles(path.join(SRC, 'core')), ...tsFiles(path.join(SRC, 'runbooks'))];

  it('finds the sources and their imports', () => {
    expect(coreFiles.map(rel)).toEqual(expect.arrayContaining(['src/core/engine.ts', 'src/core/executor.ts', 'src/runbooks/loader.ts', 'src/runbooks/actions/exec.ts']));
    const refs = coreFiles.map((f) => parse(f)).flatMap(importsOf);
    // The parser sees what is there: core uses its store port as types, the loader imports js-yaml.
    expect(refs.some((r) => r.specifier === './ports/store.js' && r.typeOnly)).toBe(true);
    expect(refs.some((r) => r.specifier === 'js-yaml' && !r.typeOnly)).toBe(true);
  });

  it('keeps every layer to the imports it may make (core, ports, store, runbooks, domain, adapters)', () => {
    expect(allFiles.flatMap((f) => violationsIn(parse(f)))).toEqual([]);
  });

  it('has no import circle inside src/runbooks', () => {
    expect(circles(tsFiles(path.join(SRC, 'runbooks')))).toEqual([]);
  });

  it('holds each port in src/core/ports, and the store port is not in src/store', () => {
    const ports = tsFiles(path.join(SRC, 'core', 'ports')).map(rel);
    expect(ports).toEqual(expect.arrayContaining(['src/core/ports/store.ts', 'src/core/ports/chat-platform.ts', 'src/core/ports/silence-api.ts', 'src/core/ports/leadership.ts', 'src/core/ports/clock.ts', 'src/core/ports/step-runner.ts']));
    expect(fs.existsSync(path.join(SRC, 'store', 'store.ts'))).toBe(false);
  });

  it('recognises every kind of forbidden import (self-check of the rules)', () => {
    const sample = parse(
      path.join(SRC, 'core', 'sample.ts'),
      [
        "import { WebClient } from '@slack/web-api';",
        "import type { Client } from 'discord.js';",
        "export { REST } from '@discordjs/rest';",
        "import Database from 'better-sqlite3';",
        "const pg = await import('pg');",
        "const p = require('../bot/slack/platform.js');",
        "import { SqliteStore } from '../store/sqlite.js';",
        "import type { Store } from '../store/store.js';",
        "import { runStep } from '../runbooks/actions/index.js';",
        "import { loadRunbooks } from '../runbooks/index.js';",
        "import { handleCommand } from '../handlers/command.js';",
        "import { loadPolicy } from '../settings/policy.js';",
        "import type { Policy } from '../settings/policy.js';",
        "import type { Store as S } from './ports/store.js';",
        "import { z } from 'zod';",
        "import pgp from 'pg-promise';",
        "// import { App } from '@slack/bolt';",
        "const text = \"import x from '@slack/bolt'\";",
      ].join('\n'),
    );
    expect(violationsIn(sample)).toEqual([
      'src/core/sample.ts:1 imports the package @slack/web-api',
      // Type-only imports of an SDK are refused too: the core must not know the SDK's shapes.
      'src/core/sample.ts:2 imports the package discord.js',
      'src/core/sample.ts:3 imports the package @discordjs/rest',
      'src/core/sample.ts:4 imports the package better-sqlite3',
      'src/core/sample.ts:5 imports the package pg',
      'src/core/sample.ts:6 imports the chat adapter src/bot/slack/platform.js',
      'src/core/sample.ts:7 imports the store src/store/sqlite.js (use the port in src/core/ports)',
      // Even as types: the store port lives in the core now.
      'src/core/sample.ts:8 imports the store src/store/store.js (use the port in src/core/ports)',
      'src/core/sample.ts:9 imports src/runbooks/actions/index.js (enter the runbooks through src/runbooks/index.ts)',
      'src/core/sample.ts:10 imports src/runbooks/index.js (only src/core/ports reaches the runbooks)',
      'src/core/sample.ts:11 imports src/handlers/command.js, a layer above the core',
      'src/core/sample.ts:12 imports src/settings/policy.js as a value (the core reads the settings only as types)',
    ]);
    const runbook = parse(path.join(SRC, 'runbooks', 'sample.ts'), "import { RunbookError } from '../domain/errors.js';\nimport type { Redactor } from '../core/redact.js';\n");
    expect(violationsIn(runbook)).toEqual(['src/runbooks/sample.ts:2 imports src/core/redact.js (runbooks may import only src/domain)']);
    const store = parse(path.join(SRC, 'store', 'sample.ts'), "import type { Incident } from '../core/domain.js';\nimport type { Store } from '../core/ports/store.js';\nimport type { Card } from '../core/card.js';\n");
    expect(violationsIn(store)).toEqual(['src/store/sample.ts:3 imports src/core/card.js (the store sees only core/domain.ts and core/ports)']);
    const runner = parse(path.join(SRC, 'runner', 'sample.ts'), "import { jobSchema } from '../runners/protocol.js';\nimport { loadConfig } from '../settings/config.js';\nimport type { Store } from '../core/ports/store.js';\n");
    expect(violationsIn(runner)).toEqual([
      'src/runner/sample.ts:2 imports src/settings/config.js (the runner uses only the runbooks, the runner protocol, src/domain and the logger)',
      'src/runner/sample.ts:3 imports src/core/ports/store.js (the runner uses only the runbooks, the runner protocol, src/domain and the logger)',
    ]);
    const adapter = parse(path.join(SRC, 'bot', 'sample.ts'), "import type { Engine } from '../core/engine.js';\nimport type { IncidentUseCases } from '../core/use-cases.js';\n");
    expect(violationsIn(adapter)).toEqual(['src/bot/sample.ts:1 imports src/core/engine.js (adapters use the core through core/use-cases.ts)']);
    const env = parse(path.join(SRC, 'core', 'env.ts'), "// process.env in a comment\nconst a = process.env.X;\nconst b = process['env'];\nconst { env } = process;\nconst c = globalThis.process.env;\n");
    expect(envReadsOf(env).map((h) => h.split(':')[1])).toEqual(['2', '3', '4', '5']);
  });

  it('reads the environment only in entry points (src/main.ts, src/runner.ts, src/cli/*), which hand it to their configuration', () => {
    const allowed = new Set(['src/settings/config.ts', 'src/main.ts', 'src/runner.ts']);
    const offenders = tsFiles(SRC)
      .filter((file) => !allowed.has(rel(file)) && !rel(file).startsWith('src/cli/'))
      .flatMap((file) => envReadsOf(parse(file)));
    expect(offenders).toEqual([]);
    // And the rule does see the allowed reads.
    expect(envReadsOf(parse(path.join(SRC, 'main.ts')))).not.toEqual([]);
  });
});
