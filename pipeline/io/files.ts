/**
 * Reading from the manuscript, confined to its folder: percent-escapes are decoded by the
 * caller, `..` is resolved here, and symlinks are followed before the containment check.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export class OutsideManuscriptError extends Error {
  constructor(readonly relPath: string) {
    super(`\`${relPath}\` is outside the manuscript folder`);
  }
}

export class MissingFileError extends Error {
  constructor(readonly relPath: string, options?: {cause?: unknown}) {
    super(`Cannot find \`${relPath}\``, options);
  }
}

/** Resolves a manuscript-relative path to a real absolute path inside `root`. */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  const realRoot = await fs.realpath(root);
  const candidate = path.resolve(realRoot, relPath);
  if (!isInside(realRoot, candidate)) throw new OutsideManuscriptError(relPath);
  let real: string;
  try {
    real = await fs.realpath(candidate);
  } catch (error) {
    throw new MissingFileError(relPath, {cause: error});
  }
  if (!isInside(realRoot, real)) throw new OutsideManuscriptError(relPath);
  const stat = await fs.stat(real);
  if (!stat.isFile()) throw new MissingFileError(relPath);
  return real;
}

export async function readInside(root: string, relPath: string): Promise<{absPath: string; bytes: Buffer}> {
  const absPath = await resolveInside(root, relPath);
  return {absPath, bytes: await fs.readFile(absPath)};
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** Lists files with a similar name, for "did you mean" hints (only from folders inside the manuscript). */
export async function similarFiles(root: string, relPath: string): Promise<string[]> {
  const dir = path.posix.dirname(relPath);
  const base = path.posix.basename(relPath).toLowerCase();
  try {
    const realRoot = await fs.realpath(root);
    const realDir = await fs.realpath(path.resolve(realRoot, dir));
    // A folder that is (or links to) somewhere else is not listed: its names are not ours to show.
    if (!isInside(realRoot, realDir)) return [];
    const names = await fs.readdir(realDir);
    const stem = base.replace(/\.[^.]+$/, '');
    return names
      .filter((name) => name.toLowerCase().includes(stem) || stem.includes(name.toLowerCase().replace(/\.[^.]+$/, '')))
      .slice(0, 3)
      .map((name) => path.posix.join(dir, name));
  } catch {
    return [];
  }
}
