import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Architecture rules the README promises, checked on the syntax tree of the sources:
 * - `src/core` and `src/runbooks` never import a chat SDK, a database driver, the Slack adapter
 *   (`src/bot/`) or the SQLite store; they may use the store port (`src/store/store.ts`) as types.
 * - only the entry point, the configuration and the composition root read the environment.
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

/** Why this import breaks the boundary, or undefined when it is fine. */
function violation(ref: ImportRef): string | undefined {
  const spec = ref.specifier;
  if (!spec.startsWith('.') && !spec.startsWith('/')) {
    return FORBIDDEN_PACKAGES.some((re) => re.test(spec)) ? `imports the package ${spec}` : undefined;
  }
  const target = rel(path.resolve(path.dirname(ref.file), spec));
  if (target === 'src/bot' || target.startsWith('src/bot/')) return `imports the chat adapter ${target}`;
  if (target.startsWith('src/store/sqlite')) return `imports the SQLite store ${target}`;
  if (target.startsWith('src/store/')) {
    if (target === 'src/store/store.js' && ref.typeOnly) return undefined;
    return `imports ${target}${target === 'src/store/store.js' ? ' as a value (only type imports of the store port are allowed)' : ''}`;
  }
  return undefined;
}

const violationsIn = (source: ts.SourceFile) =>
  importsOf(source)
    .map((ref) => ({ ref, why: violation(ref) }))
    .filter((x): x is { ref: ImportRef; why: string } => x.why !== undefined)
    .map(({ ref, why }) => `${rel(ref.file)}:${ref.line} ${why}`);

describe('architecture boundaries', () => {
  const coreFiles = [...tsFiles(path.join(SRC, 'core')), ...tsFiles(path.join(SRC, 'runbooks'))];

  it('finds the core and runbook sources and their imports', () => {
    expect(coreFiles.map(rel)).toEqual(expect.arrayContaining(['src/core/engine.ts', 'src/core/executor.ts', 'src/runbooks/loader.ts', 'src/runbooks/actions/exec.ts']));
    const refs = coreFiles.map((f) => parse(f)).flatMap(importsOf);
    // The parser sees what is there: core uses its store port as types, the loader imports js-yaml.
    expect(refs.some((r) => r.specifier === './ports/store.js' && r.typeOnly)).toBe(true);
    expect(refs.some((r) => r.specifier === 'js-yaml' && !r.typeOnly)).toBe(true);
  });

  it('keeps chat SDKs, database drivers, the chat adapter and the SQLite store out of src/core and src/runbooks', () => {
    expect(coreFiles.flatMap((f) => violationsIn(parse(f)))).toEqual([]);
  });

  it('recognises every kind of forbidden import (self-check of the rule)', () => {
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
        "import { something } from '../store/store.js';",
        "import type { Store } from '../store/store.js';",
        "import { type StoreTx } from '../store/store.js';",
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
      'src/core/sample.ts:7 imports the SQLite store src/store/sqlite.js',
      'src/core/sample.ts:8 imports src/store/store.js as a value (only type imports of the store port are allowed)',
    ]);
    const env = parse(path.join(SRC, 'core', 'env.ts'), "// process.env in a comment\nconst a = process.env.X;\nconst b = process['env'];\nconst { env } = process;\nconst c = globalThis.process.env;\n");
    expect(envReadsOf(env).map((h) => h.split(':')[1])).toEqual(['2', '3', '4', '5']);
  });

  it('reads the environment only in entry points (src/main.ts, src/cli/*), which hand it to src/settings/config.ts', () => {
    const allowed = new Set(['src/settings/config.ts', 'src/main.ts']);
    const offenders = tsFiles(SRC)
      .filter((file) => !allowed.has(rel(file)) && !rel(file).startsWith('src/cli/'))
      .flatMap((file) => envReadsOf(parse(file)));
    expect(offenders).toEqual([]);
    // And the rule does see the allowed reads.
    expect(envReadsOf(parse(path.join(SRC, 'main.ts')))).not.toEqual([]);
  });
});
