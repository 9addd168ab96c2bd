/**
 * InfluxQL is built in core only (core/influx/influxql.ts): the services build statements with
 * its `influxql` template and fragments, never as text. This reads every TypeScript file of the
 * service folders with the TypeScript parser (so comments and docs do not count) and fails, naming
 * file:line, on `new Fragment(` (or `extends Fragment`), on a template string or string concatenation holding an InfluxQL
 * keyword (SELECT, SHOW, DROP, CREATE, DELETE, FROM, WHERE) unless it is core's `influxql`/`raw`
 * tagged template, and on `+=` of such text.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const FOLDERS = ['api', 'dashboards', 'ingest', 'broker', 'gateway', 'simulators', 'scripts'];
/** A keyword as a statement has it: followed by more of the statement or by an interpolated value (`\0`), not `FROM..TO`. */
const KEYWORDS = /\b(SELECT|SHOW|DROP|CREATE|DELETE|FROM|WHERE)\b(?=\s*\0|\s+[^\s.])/;
const HOLE = '\0';
/** Core's tagged templates: their text is the statement's trusted text, their `${}` values or fragments. */
const BUILDER_TAGS = new Set(['influxql', 'raw']);

function templateText(node: ts.TemplateLiteral): string {
  if (ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  return node.head.text + node.templateSpans.map((s) => HOLE + s.literal.text).join('');
}

const isPlus = (n: ts.Node): n is ts.BinaryExpression =>
  ts.isBinaryExpression(n) && (n.operatorToken.kind === ts.SyntaxKind.PlusToken || n.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken);
/** The `+` of a chain that holds this one, through parentheses. */
function inPlusChain(n: ts.Node): boolean {
  let p = n.parent;
  while (ts.isParenthesizedExpression(p)) p = p.parent;
  return isPlus(p);
}

/** The string literals of a `+` chain (templates are checked on their own). */
function concatenatedStrings(n: ts.Expression): ts.StringLiteral[] {
  if (ts.isParenthesizedExpression(n)) return concatenatedStrings(n.expression);
  if (isPlus(n)) return [...concatenatedStrings(n.left), ...concatenatedStrings(n.right)];
  return ts.isStringLiteral(n) ? [n] : [];
}

/** `file:line: what` for each place in `source` that builds InfluxQL as text. */
export function findTextQueries(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const report = (node: ts.Node, what: string) => out.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${what}`);
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Fragment') {
      report(node, 'new Fragment( (build fragments with core\'s influxql`...`, ident, raw`...`)');
    } else if (ts.isHeritageClause(node) && node.types.some((t) => ts.isIdentifier(t.expression) && t.expression.text === 'Fragment')) {
      report(node, 'extends Fragment (compose fragments with core\'s influxql`...` instead)');
    } else if (ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const p = node.parent;
      const builder = ts.isTaggedTemplateExpression(p) && ts.isIdentifier(p.tag) && BUILDER_TAGS.has(p.tag.text);
      const m = KEYWORDS.exec(templateText(node));
      if (!builder && m) report(node, `template string with InfluxQL ${m[1]} (use core's influxql\`...\`)`);
    } else if (isPlus(node) && !inPlusChain(node)) {
      const hit = concatenatedStrings(node).map((s) => KEYWORDS.exec(HOLE + s.text + HOLE)).find((m) => m);
      if (hit) report(node, `string concatenation with InfluxQL ${hit[1]} (use core's influxql\`...\`)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'generated' ? [] : sourceFiles(path);
    return /\.[cm]?ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('InfluxQL text is built in core only', () => {
  it('finds planted text queries, and not comments, docs, constants or core\'s builder', () => {
    const planted = [
      "const a = new Fragment('\"x\"');",
      'const b = `SELECT * FROM ${m}`;',
      'const c = \'SELECT "v" FROM "m" WHERE "device" = \' + id;',
      'let d = x; d += " WHERE time > 0";',
      'const e = String.raw`DROP DATABASE ${db}`;',
      'const f = prefix + (`x` + \' FROM \' + name);',
      'class Bound extends Fragment {}',
    ].join('\n');
    expect(findTextQueries('planted.ts', planted).map((s) => s.split(': ')[0])).toEqual([
      'planted.ts:1', 'planted.ts:2', 'planted.ts:3', 'planted.ts:4', 'planted.ts:5', 'planted.ts:6', 'planted.ts:7',
    ]);
    const clean = [
      '// const q = `SELECT * FROM ${m} WHERE x`; new Fragment(x)',
      '/** Builds `SELECT ${x} FROM y` and "SHOW " + z, never new Fragment(). */',
      'const f = influxql`SELECT ${ident(x)} FROM ${m} WHERE "device" = ${id}`;',
      'const g = raw`$timeFilter`;',
      "const h = await influx.query('SHOW MEASUREMENTS');",
      'const i = `select the devices from ${park}`;',
      "const j = 'Select ' + n + ' from the list';",
      'const k = `${n} readings, ${m} dropped`;',
      'const l = `Usage: run [--range FROM..TO] (default ${d})`;',
    ].join('\n');
    expect(findTextQueries('clean.ts', clean)).toEqual([]);
  });

  it(`finds none in ${FOLDERS.join(', ')}`, () => {
    const files = FOLDERS.flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((f) => findTextQueries(f, readFileSync(f, 'utf8')))).toEqual([]);
  });
});
