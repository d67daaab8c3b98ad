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
