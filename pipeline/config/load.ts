/**
 * Reads and validates `book.yaml`. Problems become messages on the file with the
 * line and column of the offending node.
 */
import {LineCounter, parseDocument, isNode, isMap, isScalar, type Node as YamlNode} from 'yaml';
import {VFile} from 'vfile';
import {bookSchema, type BookConfig} from './schema.ts';

export interface LoadedConfig {
  file: VFile;
  config?: BookConfig;
}

/**
 * A YAML document and its value. Syntax errors, and documents that expand aliases without bound
 * (a "billion laughs" file, which yaml refuses), become fatal messages on `file`; then no value.
 */
export function readYaml(text: string, file: VFile): {doc: ReturnType<typeof parseDocument>; lineCounter: LineCounter; value?: unknown} {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true});
  const fail = (reason: string, offset: number) => {
    const pos = lineCounter.linePos(offset);
    file.message(`Malformed YAML: ${reason.split('\n')[0]}`, {place: {line: pos.line, column: pos.col}, ruleId: 'yaml-syntax', source: 'book'}).fatal = true;
  };
  for (const error of doc.errors) fail(error.message, error.pos[0]);
  if (doc.errors.length > 0) return {doc, lineCounter};
  try {
    return {doc, lineCounter, value: doc.toJS()};
  } catch (error) {
    fail((error as Error).message, 0);
    return {doc, lineCounter};
  }
}

export function parseConfig(text: string, path: string): LoadedConfig {
  const file = new VFile({path, value: text});
  const {doc, lineCounter, value: data} = readYaml(text, file);
  if (file.messages.length > 0) return {file};
  const place = (offset: number, end?: number) => {
    const start = lineCounter.linePos(offset);
    return end === undefined
      ? {line: start.line, column: start.col}
      : {start: {line: start.line, column: start.col}, end: toPoint(lineCounter.linePos(end))};
  };
  const result = bookSchema.safeParse(data);
  if (result.success) return {file, config: result.data};

  for (const issue of result.error.issues) {
    const path = issue.path as (string | number)[];
    // Point at the deepest node that exists: the value, or the key of a missing field's parent.
    let node: unknown;
    for (let depth = path.length; depth >= 0 && !isNode(node); depth--) {
      node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    }
    let range = isNode(node) ? (node as YamlNode).range : undefined;
    let message: string;
    if (issue.code === 'unrecognized_keys' && isMap(node)) {
      // Point at the unknown key itself, and suggest the field that was probably meant.
      const keys = (issue as {keys: string[]}).keys;
      const pair = node.items.find((item) => isScalar(item.key) && keys.includes(String(item.key.value)));
      if (pair && isScalar(pair.key) && pair.key.range) range = pair.key.range;
      const known = knownKeys(path);
      message = keys
        .map((key) => {
          const guess = closest(key, known);
          return `Unknown field \`${[...path, key].join('.')}\`${guess ? `; did you mean \`${guess}\`?` : ''}`;
        })
        .join('; ');
    } else if (issue.code === 'invalid_type' && (issue as {input?: unknown}).input === undefined) {
      message = `Missing required field \`${path.join('.')}\``;
      if (range) range = [range[0], range[0], range[0]];
    } else {
      message = `Invalid \`${path.join('.') || 'book'}\`: ${describeIssue(issue)}`;
    }
    file.message(message, {
      place: range ? place(range[0], range[1] > range[0] ? range[1] : undefined) : undefined,
      ruleId: 'config-schema',
      source: 'book',
    }).fatal = true;
  }
  return {file};
}

/** The field names the schema allows at a path, for "did you mean" hints. */
function knownKeys(path: (string | number)[]): string[] {
  let schema: unknown = bookSchema;
  for (const key of path) {
    schema = unwrap(schema);
    const shape = (schema as {shape?: Record<string, unknown>}).shape;
    if (shape && typeof key === 'string') schema = shape[key];
    else if (typeof key === 'number') schema = (unwrap(schema) as {element?: unknown}).element;
  }
  const shape = (unwrap(schema) as {shape?: Record<string, unknown>}).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as {def?: {innerType?: unknown; in?: unknown}} | undefined;
  while (current?.def?.innerType || current?.def?.in) current = (current.def.innerType ?? current.def.in) as typeof current;
  return current;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function toPoint(pos: {line: number; col: number}) {
  return {line: pos.line, column: pos.col};
}

function describeIssue(issue: {code: string; message: string; keys?: string[]}): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}
