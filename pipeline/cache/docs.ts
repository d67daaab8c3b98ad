/**
 * Parse results of single documents, cached by content. A document's parse is a pure function
 * of its DocInput (text, path, id, number, part) and of the pipeline, so the key is the hash
 * of exactly those. The value is the ParsedDoc as V8 serialises it (trees, label list, the
 * image references as references into the tree), with the messages of its VFile.
 *
 * Book-wide resolution (cross-references, citations, numbering of generated back matter)
 * mutates the trees, so every build gets fresh copies: entries are deserialised, never shared.
 */
import v8 from 'node:v8';
import {VFile} from 'vfile';
import type {VFileMessage} from 'vfile-message';
import {parseDoc, type DocInput, type ParsedDoc} from '../stages/markdown.ts';
import {hashOf, stableJson} from './hash.ts';
import type {CacheStore} from './store.ts';

const FORMAT = 'parsed-doc-1';

interface StoredMessage {
  reason: string;
  place?: VFileMessage['place'];
  source?: string;
  ruleId?: string;
  fatal?: boolean | null;
  url?: string;
  note?: string;
  actual?: string;
  expected?: string[];
}

interface Stored {
  format: string;
  doc: ParsedDoc['doc'];
  labels: ParsedDoc['labels'];
  images: ParsedDoc['images'];
  frontmatter: ParsedDoc['frontmatter'];
  messages: StoredMessage[];
}

/** The cache key of one document's parse. */
export function docKey(pipeline: string, input: DocInput): string {
  const {text, ...rest} = input;
  return hashOf(FORMAT, pipeline, stableJson(rest), text);
}

export function serialiseParsed(parsed: ParsedDoc): Buffer {
  const {file, doc} = parsed;
  const messages: StoredMessage[] = file.messages.map((m) => ({
    reason: m.reason,
    ...(m.place ? {place: m.place} : {}),
    ...(m.source ? {source: m.source} : {}),
    ...(m.ruleId ? {ruleId: m.ruleId} : {}),
    fatal: m.fatal,
    ...(m.url ? {url: m.url} : {}),
    ...(m.note ? {note: m.note} : {}),
    ...(m.actual !== undefined ? {actual: m.actual} : {}),
    ...(m.expected ? {expected: m.expected} : {}),
  }));
  // One serialisation: the image references stay references to nodes of the tree.
  const stored: Stored = {format: FORMAT, doc, labels: parsed.labels, images: parsed.images, frontmatter: parsed.frontmatter, messages};
  return v8.serialize(stored);
}

/** A fresh ParsedDoc from stored bytes; the VFile is rebuilt from the input. */
export function deserialiseParsed(bytes: Uint8Array, input: DocInput): ParsedDoc | undefined {
  let stored: Stored;
  try {
    stored = v8.deserialize(bytes) as Stored;
  } catch {
    return undefined;
  }
  if (!stored || stored.format !== FORMAT) return undefined;
  const file = new VFile({path: input.displayPath ?? input.path, value: input.text});
  for (const m of stored.messages) {
    const message = file.message(m.reason, {...(m.place ? {place: m.place} : {}), ...(m.source ? {source: m.source} : {}), ...(m.ruleId ? {ruleId: m.ruleId} : {})});
    message.fatal = m.fatal;
    if (m.url) message.url = m.url;
    if (m.note) message.note = m.note;
    if (m.actual !== undefined) message.actual = m.actual;
    if (m.expected) message.expected = m.expected;
  }
  return {doc: stored.doc, file, labels: stored.labels, images: stored.images, frontmatter: stored.frontmatter};
}

export interface ParseStats {
  hits: number;
  misses: number;
}

export interface DocCacheOptions {
  pipeline: string;
  store?: CacheStore;
  /** Serialised results kept in memory (a long-running preview). */
  memory?: Map<string, Buffer>;
  stats?: ParseStats;
}

/** parseDoc for every input, served from the cache where the input is unchanged. */
export async function parseDocsCached(inputs: DocInput[], options: DocCacheOptions): Promise<ParsedDoc[]> {
  const stats = options.stats ?? {hits: 0, misses: 0};
  const results: (ParsedDoc | undefined)[] = new Array(inputs.length);
  const keys = inputs.map((input) => docKey(options.pipeline, input));
  const missing: number[] = [];
  inputs.forEach((input, i) => {
    const key = keys[i]!;
    const bytes = options.memory?.get(key) ?? options.store?.read('docs', key);
    const parsed = bytes ? deserialiseParsed(bytes, input) : undefined;
    if (parsed) {
      if (options.memory && !options.memory.has(key)) options.memory.set(key, bytes!);
      results[i] = parsed;
      stats.hits++;
    } else missing.push(i);
  });
  const remember = (i: number, bytes: Buffer) => {
    options.store?.write('docs', keys[i]!, bytes);
    options.memory?.set(keys[i]!, bytes);
  };
  // Parsed on this thread: worker threads were measured to be slower for a 600-page book on
  // two cores (starting them and warming up their code costs more than they save).
  for (const i of missing) {
    const parsed = parseDoc(inputs[i]!);
    // Stored before resolution changes the tree.
    if (options.store || options.memory) remember(i, serialiseParsed(parsed));
    results[i] = parsed;
  }
  stats.misses += missing.length;
  return results as ParsedDoc[];
}
