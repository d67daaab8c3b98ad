/**
 * Content hashes for cache keys. A key names everything that can change a result: the pipeline
 * itself (its source, the templates, the dependency versions, the Node/ICU versions) and the
 * inputs of the step. Any doubt means a miss, never a stale hit.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {filesUnder, pipelineFiles} from '../io/tree.mjs';

/** Bumped when the layout of cached entries changes. */
export const CACHE_FORMAT = 1;

export const PIPELINE_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const PROJECT_DIR = path.dirname(PIPELINE_DIR);

/** SHA-256 of the parts, each framed by its length so that ("ab","c") ≠ ("a","bc"). */
export function hashOf(...parts: (string | Uint8Array | number | undefined)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const value = part === undefined ? '\u0000undefined' : typeof part === 'number' ? `\u0000n${part}` : part;
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    hash.update(`${bytes.byteLength}:`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/** JSON with object keys sorted, so equal values always give the same text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    if (v instanceof Map) return {__map: [...v]};
    return v;
  });
}

let codeDigestValue: string | undefined;

/**
 * Identity of the code that runs: every file of pipeline/, package.json and the lock file
 * (dependency versions), and the runtime (Node, V8 and ICU, which sorts the index). Computed
 * once per process: a running process keeps running the code it loaded.
 */
export function codeDigest(): string {
  if (codeDigestValue) return codeDigestValue;
  const hash = createHash('sha256');
  hash.update(`format ${CACHE_FORMAT}\n`);
  const {node, v8, icu, unicode, cldr, tz} = process.versions as Record<string, string | undefined>;
  hash.update(JSON.stringify({node, v8, icu, unicode, cldr, tz, tzEnv: process.env.TZ ?? ''}));
  for (const {rel, file} of pipelineFiles(PIPELINE_DIR)) addFile(hash, rel, file);
  codeDigestValue = hash.digest('hex');
  return codeDigestValue;
}

function addFile(hash: ReturnType<typeof createHash>, label: string, file: string) {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return;
  }
  hash.update(`\n${label}\n${bytes.byteLength}\n`);
  hash.update(bytes);
}

/**
 * Identity of the pipeline for one build: the code (above) and every file of the templates
 * folder, read again for each build because templates are read at build time.
 */
export function pipelineDigest(templatesDir: string): string {
  const hash = createHash('sha256');
  hash.update(codeDigest());
  for (const file of filesUnder(templatesDir)) addFile(hash, `templates/${path.relative(templatesDir, file)}`, file);
  return hash.digest('hex');
}
