/**
 * Parses a query file: the leading `--` comment block (up to the first blank line) says what the
 * query answers, then
 *   -- @param NAME TYPE required DESCRIPTION
 *   -- @param NAME TYPE default VALUE DESCRIPTION     (VALUE: NULL, a number, true, false, 'text')
 *   -- @column NAME DESCRIPTION
 *   -- @array-fallback
 * and the declared parameters must be exactly the `$name` placeholders of the SQL, so a query
 * never fails at run time for a parameter nobody could give.
 */
import { NeurolensError } from '../errors.js';
import { PARAM_TYPES, type ColumnDoc, type ParamDef, type ParamType, type QueryDef } from './types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `$name` placeholders of a SQL text, outside comments, string literals and quoted identifiers. */
export function sqlPlaceholders(sql: string): Set<string> {
  const code = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""');
  const names = new Set<string>();
  for (const m of code.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  return names;
}

function parseDefault(text: string, type: ParamType): { value: string | number | boolean | null; rest: string } | string {
  const quoted = /^'((?:[^']|'')*)'(?:\s+|$)/.exec(text);
  if (quoted) {
    if (type !== 'VARCHAR') return `a quoted default needs type VARCHAR, not ${type}`;
    return { value: quoted[1]!.replace(/''/g, "'"), rest: text.slice(quoted[0].length) };
  }
  const m = /^(\S+)(?:\s+|$)/.exec(text);
  if (!m) return 'default needs a value (NULL, a number, true, false or a quoted string)';
  const word = m[1]!;
  const rest = text.slice(m[0].length);
  if (word.toUpperCase() === 'NULL') return { value: null, rest };
  if (type === 'BOOLEAN') {
    if (word === 'true' || word === 'false') return { value: word === 'true', rest };
    return `default '${word}' is not true, false or NULL`;
  }
  if (type === 'VARCHAR') return `VARCHAR default '${word}' must be quoted ('...') or NULL`;
  const n = Number(word);
  if (!Number.isFinite(n) || ((type === 'INTEGER' || type === 'BIGINT') && !Number.isInteger(n))) {
    return `default '${word}' is not a ${type}`;
  }
  return { value: n, rest };
}

function parseParam(body: string): ParamDef | string {
  const m = /^(\S+)\s+(\S+)\s+(required|default)(?:\s+|$)([\s\S]*)$/.exec(body);
  if (!m) return "expected '@param NAME TYPE required DESCRIPTION' or '@param NAME TYPE default VALUE DESCRIPTION'";
  const [, name, typeWord, kind, tail] = m as unknown as [string, string, string, string, string];
  if (!NAME.test(name)) return `parameter name '${name}' is not an identifier`;
  const type = typeWord.toUpperCase() as ParamType;
  if (!PARAM_TYPES.includes(type)) return `parameter ${name}: type '${typeWord}' is not one of ${PARAM_TYPES.join(', ')}`;
  if (kind === 'required') return { name, type, required: true, description: tail.trim() };
  const d = parseDefault(tail, type);
  if (typeof d === 'string') return `parameter ${name}: ${d}`;
  return { name, type, required: false, default: d.value, description: d.rest.trim() };
}

/** Parses and checks one query file. Problems are NeurolensError('BAD_QUERY') naming file and line. */
export function parseQueryFile(name: string, file: string, text: string): QueryDef {
  const lines = text.split(/\r?\n/);
  const params: ParamDef[] = [];
  const columns: ColumnDoc[] = [];
  const description: string[] = [];
  let arrayFallback = false;
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // The header is the first block of comment lines; a blank line or SQL ends it.
    if (line === '' && description.length + params.length + columns.length === 0) continue;
    if (!line.startsWith('--')) break;
    const body = line.replace(/^--\s?/, '');
    const tag = /^@([a-z-]+)\s*([\s\S]*)$/.exec(body.trim());
    if (!tag) {
      description.push(body.trim());
      continue;
    }
    const [, kind, rest] = tag as unknown as [string, string, string];
    if (kind === 'param') {
      const p = parseParam(rest.trim());
      if (typeof p === 'string') problems.push(`line ${i + 1}: ${p}`);
      else if (params.some((q) => q.name === p.name)) problems.push(`line ${i + 1}: parameter ${p.name} is declared twice`);
      else params.push(p);
    } else if (kind === 'column') {
      const c = /^(\S+)\s*([\s\S]*)$/.exec(rest.trim());
      if (!c) problems.push(`line ${i + 1}: expected '@column NAME DESCRIPTION'`);
      else columns.push({ name: c[1]!, description: c[2]!.trim() });
    } else if (kind === 'array-fallback') {
      arrayFallback = true;
    } else {
      problems.push(`line ${i + 1}: unknown tag @${kind} (known: @param, @column, @array-fallback)`);
    }
  }
  const used = sqlPlaceholders(text);
  for (const p of params) if (!used.has(p.name)) problems.push(`parameter ${p.name} is declared but $${p.name} does not appear in the SQL`);
  for (const u of used) if (!params.some((p) => p.name === u)) problems.push(`$${u} is used in the SQL but not declared with @param`);
  if (description.length === 0) problems.push('the header comment does not say what the query answers');
  if (problems.length) throw new NeurolensError('BAD_QUERY', `query file ${file}:\n  ${problems.join('\n  ')}`);
  return {
    name,
    description: description.join(' ').replace(/\s+/g, ' ').trim(),
    params,
    columns,
    sql: text,
    file,
    ...(arrayFallback ? { arrayFallback } : {}),
  };
}
