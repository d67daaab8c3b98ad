/**
 * Atomic outputs: everything is written into a staging folder first and moved into the
 * output folder only when the whole build succeeded, so a failed or interrupted build
 * leaves the previous files intact.
 *
 * The staging folder is `<out>/.staging-<pid>-<random>`. It is removed when the build ends, when
 * the process exits (also on Ctrl+C: the CLI exits on SIGINT/SIGTERM), and, if the process was
 * killed outright, by the next build into the same folder (once that pid is no longer running).
 */
import fs from 'node:fs/promises';
import fsSync, {rmSync} from 'node:fs';
import path from 'node:path';

/** A problem with the output folder or disk, with a message for the author (exit code 2). */
export class OutputError extends Error {
  constructor(message: string, readonly code?: string, options?: {cause?: unknown}) {
    super(message, options);
  }
}

const STAGING = /^\.staging-(?:(\d+)-)?[A-Za-z0-9]+$/;
/** Staging folders of this process, removed on exit whatever happens. */
const live = new Set<string>();
let exitHook = false;

/** A staging folder of this process, removed by the exit hook if the process ends before its owner does. */
function track(dir: string): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeStagingNow);
  }
  live.add(dir);
}

/** Removes this process's staging folders now (synchronously: safe in signal and exit handlers). */
export function removeStagingNow(): void {
  for (const dir of live) {
    try {
      rmSync(dir, {recursive: true, force: true});
    } catch {}
    live.delete(dir);
  }
}

/**
 * Makes sure the output folder exists and can be written, and removes what killed builds left
 * behind. Builds call it before the long stages, so a read-only or misplaced folder is an error
 * in a second rather than after the PDF.
 */
export async function checkOutputFolder(outDir: string): Promise<void> {
  try {
    makeFolderSync(outDir);
    await removeStaleStaging(outDir);
    const probe = await fs.mkdtemp(path.join(outDir, `.staging-${process.pid}-`));
    // Known to the exit hook: an interrupt between these two lines removes it too.
    track(probe);
    await fs.rm(probe, {recursive: true, force: true});
    live.delete(probe);
  } catch (error) {
    throw outputError(error, outDir);
  }
}

export async function writeOutputsAtomically(outDir: string, outputs: Map<string, Uint8Array>): Promise<void> {
  let staging: string | undefined;
  try {
    makeFolderSync(outDir);
    await removeStaleStaging(outDir);
    staging = await fs.mkdtemp(path.join(outDir, `.staging-${process.pid}-`));
    track(staging);
    for (const [name, bytes] of outputs) {
      // Written and flushed to the disk before it replaces the previous file.
      const handle = await fs.open(path.join(staging, name), 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // rename() within one file system replaces each file in one step.
    for (const name of outputs.keys()) await fs.rename(path.join(staging, name), path.join(outDir, name));
  } catch (error) {
    throw outputError(error, outDir);
  } finally {
    if (staging) {
      await fs.rm(staging, {recursive: true, force: true}).catch(() => undefined);
      live.delete(staging);
    }
  }
}

/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir never returns for a folder that
 * cannot be created inside an existing one (`/proc/x`): it retries the parent forever.
 */
export function makeFolderSync(dir: string): void {
  const missing: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    try {
      if (fsSync.statSync(current).isDirectory()) break;
      throw Object.assign(new Error(`${current} is not a folder`), {code: 'ENOTDIR'});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const folder of missing) {
    try {
      fsSync.mkdirSync(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Staging folders of builds that no longer run (killed, or from a crashed machine). */
async function removeStaleStaging(outDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(outDir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = STAGING.exec(name);
    if (!match) continue;
    const pid = match[1] ? Number(match[1]) : undefined;
    if (pid !== undefined && pid !== process.pid && isRunning(pid)) continue;
    if (pid === process.pid && [...live].some((dir) => path.basename(dir) === name)) continue;
    await fs.rm(path.join(outDir, name), {recursive: true, force: true}).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One clear sentence for what went wrong with the output folder. */
export function outputError(error: unknown, outDir: string): OutputError {
  if (error instanceof OutputError) return error;
  const err = error as NodeJS.ErrnoException;
  const code = err?.code;
  const where = `\`${outDir}\``;
  let message: string;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      message = `Cannot write to the output folder ${where}: permission denied (is it writable?)`;
      break;
    case 'EROFS':
      message = `Cannot write to the output folder ${where}: it is on a read-only file system`;
      break;
    case 'ENOTDIR':
    case 'EEXIST':
      message = `Cannot use ${where} as the output folder: a file is in the way (it or a folder above it is not a folder)`;
      break;
    case 'ENOSPC':
    case 'EDQUOT':
      message = `Cannot write the outputs to ${where}: the disk is full (or the quota is used up)`;
      break;
    case 'ENOENT':
      message = `Cannot create the output folder ${where}: a folder above it does not exist or cannot hold folders`;
      break;
    default:
      message = `Cannot write the outputs to ${where}: ${err?.message ?? String(error)}`;
  }
  return new OutputError(message, code, {cause: error});
}
