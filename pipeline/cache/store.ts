/**
 * A content-addressed store on disk: `<dir>/<namespace>/<key[0..2]>/<key>`. Entries are written
 * to a temporary file and renamed, so a reader (another build, the preview's background build)
 * sees a whole entry or none; each starts with the SHA-256 of its content, checked on reading,
 * so a damaged file is a miss, never a wrong book. The store never fails a build: when the folder
 * cannot be written, it says so once and the build goes on without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import {createHash} from 'node:crypto';
import {makeFolderSync} from '../io/output.ts';
import {walkFiles} from '../io/walk.ts';

export const DEFAULT_CACHE_DIR = path.join('.cache', 'book');
/** The folders a cache holds (see index.ts); `clean` removes only a folder made of these. */
export const NAMESPACES = ['docs', 'citations', 'image', 'scaled', 'deflate', 'xhtml', 'epub', 'pdf', 'pdf-meta'];

/** True when `dir` is missing or holds nothing but cache namespaces (so removing it is safe). */
export function looksLikeCache(dir: string): boolean {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return entries.every((name) => NAMESPACES.includes(name));
}

/** Default size limit; the least recently used entries go first. */
export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

export interface StoreStats {
  reads: number;
  hits: number;
  writes: number;
}

export class CacheStore {
  readonly dir: string;
  readonly stats: StoreStats = {reads: 0, hits: 0, writes: 0};
  private broken = false;
  private temps = 0;
  private readonly warn: (message: string) => void;
  /** Entries read or written by this process: never pruned by it. */
  private readonly used = new Set<string>();

  constructor(dir: string, options: {warn?: (message: string) => void} = {}) {
    this.dir = path.resolve(dir);
    this.warn = options.warn ?? (() => {});
  }

  private file(namespace: string, key: string): string {
    // Only the namespaces `clean` knows, or it would refuse to remove the folder.
    if (!NAMESPACES.includes(namespace) || !/^[a-f0-9]{16,128}$/.test(key)) throw new Error(`Bad cache key ${namespace}/${key}`);
    return path.join(this.dir, namespace, key.slice(0, 2), key);
  }

  read(namespace: string, key: string): Buffer | undefined {
    if (this.broken) return undefined;
    this.stats.reads++;
    const file = this.file(namespace, key);
    try {
      const stored = fs.readFileSync(file);
      const bytes = stored.subarray(32);
      if (stored.length < 32 || !createHash('sha256').update(bytes).digest().equals(stored.subarray(0, 32))) {
        fs.rmSync(file, {force: true});
        return undefined;
      }
      this.stats.hits++;
      this.used.add(file);
      touch(file, stored[0]!);
      return bytes;
    } catch {
      return undefined;
    }
  }

  write(namespace: string, key: string, bytes: Uint8Array | string): void {
    if (this.broken) return;
    const file = this.file(namespace, key);
    // Unique per process and write: two builds sharing the cache never write the same file.
    const temp = `${file}.${process.pid}.${++this.temps}.tmp`;
    try {
      // One level at a time: a recursive mkdir never returns for a folder under /proc.
      makeFolderSync(path.dirname(file));
      const content = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
      const fd = fs.openSync(temp, 'w');
      try {
        fs.writeSync(fd, createHash('sha256').update(content).digest());
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, file);
      this.stats.writes++;
      this.used.add(file);
    } catch (error) {
      fs.rmSync(temp, {force: true});
      this.broken = true;
      this.warn(`The build cache in ${this.dir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); building without it`);
    }
  }

  /** Deletes the least recently used entries until the store is under `maxBytes`. */
  prune(maxBytes = DEFAULT_MAX_BYTES): {removed: number; bytes: number} {
    const entries: {file: string; size: number; mtime: number}[] = [];
    for (const file of walkFiles(this.dir, {maxDepth: 2})) {
      if (!file.stat.isFile()) continue;
      // Temporary files of a writer that no longer runs (killed, crashed) are removed.
      if (file.name.endsWith('.tmp')) {
        try {
          if (!writerRuns(file.name)) fs.rmSync(file.path, {force: true});
        } catch {}
      } else {
        entries.push({file: file.path, size: file.stat.size, mtime: file.stat.mtimeMs});
      }
    }
    let total = entries.reduce((n, e) => n + e.size, 0);
    let removed = 0;
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const entry of entries) {
      if (total <= maxBytes) break;
      if (this.used.has(entry.file)) continue;
      try {
        fs.rmSync(entry.file, {force: true});
        total -= entry.size;
        removed++;
      } catch {}
    }
    return {removed, bytes: total};
  }
}

/** Whether the process that named a temporary file `….<pid>.<n>.tmp` is still running. */
function writerRuns(name: string): boolean {
  const pid = Number(/\.(\d+)\.\d+\.tmp$/.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Records a use of an entry in its modification time, for pruning: its first byte is written
 * again unchanged, so the file system stamps the time (the pipeline never reads the clock).
 * In the background; a cache that cannot be written simply keeps the old time.
 */
function touch(file: string, firstByte: number): void {
  fs.open(file, 'r+', (error, fd) => {
    if (error) return;
    fs.write(fd, Buffer.of(firstByte), 0, 1, 0, () => fs.close(fd, () => {}));
  });
}
