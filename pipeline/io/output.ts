/**
 * Atomic outputs: everything is written into a staging folder first and moved into the
 * output folder only when the whole build succeeded, so a failed or interrupted build
 * leaves the previous files intact.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export async function writeOutputsAtomically(outDir: string, outputs: Map<string, Uint8Array>): Promise<void> {
  await fs.mkdir(outDir, {recursive: true});
  const staging = await fs.mkdtemp(path.join(outDir, '.staging-'));
  try {
    for (const [name, bytes] of outputs) await fs.writeFile(path.join(staging, name), bytes);
    // rename() within one file system replaces each file in one step.
    for (const name of outputs.keys()) await fs.rename(path.join(staging, name), path.join(outDir, name));
  } finally {
    await fs.rm(staging, {recursive: true, force: true});
  }
}
