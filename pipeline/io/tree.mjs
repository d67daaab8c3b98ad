// Every file under a folder, sorted (node_modules and dot-folders left out). Plain JavaScript:
// pipeline/bundle.mjs uses it before anything can read TypeScript, and cache/hash.ts too.
import fs from 'node:fs';
import path from 'node:path';

export function filesUnder(dir) {
  const out = [];
  let entries;
  try {
    entries = fs.readdirSync(dir, {withFileTypes: true});
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) out.push(...filesUnder(full));
    } else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/**
 * The one definition of "the pipeline's files", for whatever must change when the code does
 * (the bundle's fingerprint, the build cache's code digest): everything under pipeline/, and
 * package.json and the lock file beside it (the dependencies' versions). bench/ and test/ are
 * tools of the repository, not part of a build. Paths relative to the project, with `/`.
 */
export function pipelineFiles(pipelineDir) {
  const project = path.dirname(pipelineDir);
  return [...filesUnder(pipelineDir), path.join(project, 'package.json'), path.join(project, 'package-lock.json')]
    .map((file) => ({rel: path.relative(project, file).split(path.sep).join('/'), file}));
}
