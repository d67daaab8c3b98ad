/**
 * Watches folders for saves and calls back once per burst of changes. Uses recursive
 * fs.watch (inotify on Linux, FSEvents on macOS); where that is unavailable, polls the
 * folders' file sizes and times twice a second. Editor droppings, the build cache and the
 * output folder are ignored, so background builds do not trigger rebuilds.
 */
import fs from 'node:fs';
import path from 'node:path';
import {walkFiles} from '../io/walk.ts';

export interface Watcher {
  close(): void;
}

const IGNORED = /(^|[/\\])(\.git|\.cache|node_modules|\.DS_Store)([/\\]|$)|(^|[/\\])\.#|~$|\.sw[px]$|\.tmp$|\.staging-/;

export function watchFolders(
  folders: string[],
  onChange: (changed: string[]) => void,
  options: {ignore?: string[]; debounceMs?: number} = {},
): Watcher {
  const ignoredDirs = (options.ignore ?? []).map((dir) => path.resolve(dir));
  const debounceMs = options.debounceMs ?? 40;
  let timer: NodeJS.Timeout | undefined;
  const pending = new Set<string>();
  const note = (file: string) => {
    const full = path.resolve(file);
    if (IGNORED.test(full) || ignoredDirs.some((dir) => full === dir || full.startsWith(`${dir}${path.sep}`))) return;
    pending.add(full);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changed = [...pending];
      pending.clear();
      onChange(changed);
    }, debounceMs);
  };
  const closers: (() => void)[] = [];
  for (const folder of folders) {
    try {
      const watcher = fs.watch(folder, {recursive: true}, (_event, name) => note(path.join(folder, name ? String(name) : '')));
      watcher.on('error', () => {});
      closers.push(() => watcher.close());
    } catch {
      closers.push(poll(folder, note));
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const close of closers) close();
    },
  };
}

function poll(folder: string, note: (file: string) => void): () => void {
  const snapshot = () => {
    const state = new Map<string, string>();
    for (const file of walkFiles(folder, {maxDepth: 8, skip: (full) => IGNORED.test(full)})) state.set(file.path, `${file.stat.size}:${file.stat.mtimeMs}`);
    return state;
  };
  let last = snapshot();
  const timer = setInterval(() => {
    const now = snapshot();
    for (const [file, stamp] of now) if (last.get(file) !== stamp) note(file);
    for (const file of last.keys()) if (!now.has(file)) note(file);
    last = now;
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}
