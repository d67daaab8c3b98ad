/**
 * The files below a folder with their sizes and times, for the watchers and fingerprints that
 * compare trees (the preview's poller, the cache's store and its print-environment digest).
 * A folder that cannot be read is passed over; so is a file that is gone by the time it is read.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface WalkedFile {
  path: string;
  name: string;
  stat: fs.Stats;
}

export interface WalkOptions {
  /** Folders deeper than this below `dir` are not entered. */
  maxDepth: number;
  /** Entries in name order (for a digest); the file system's order otherwise. */
  sorted?: boolean;
  /** Paths left out (and not entered). */
  skip?: (full: string) => boolean;
}

export function walkFiles(dir: string, options: WalkOptions): WalkedFile[] {
  const found: WalkedFile[] = [];
  const walk = (folder: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, {withFileTypes: true});
    } catch {
      return;
    }
    if (options.sorted) entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (options.skip?.(full)) continue;
      if (entry.isDirectory()) {
        if (depth < options.maxDepth) walk(full, depth + 1);
        continue;
      }
      try {
        found.push({path: full, name: entry.name, stat: fs.statSync(full)});
      } catch {}
    }
  };
  walk(dir, 0);
  return found;
}
