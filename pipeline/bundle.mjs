// Runs the pipeline from bundled JavaScript instead of through tsx. With tsx, every module the
// CLI imports (ours and the libraries') passes through its hooks in a second thread: starting a
// build cost about 1.5 s, and a rebuild after a one-chapter edit spent most of its time there.
// The bundle is our TypeScript and the libraries written as ES modules (CommonJS ones stay in
// node_modules), written by esbuild in well under a second into
// node_modules/.cache/book-pipeline/<fingerprint>/ the first time a given version of the source
// runs, and reused until a source file changes. Plain JavaScript: it runs before anything can
// read TypeScript.
import fs from 'node:fs';
import path from 'node:path';
import {createHash} from 'node:crypto';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {filesUnder, pipelineFiles} from './io/tree.mjs';

const PIPELINE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(PIPELINE);
export const BUNDLE_CACHE = path.join(ROOT, 'node_modules', '.cache', 'book-pipeline');
/** Entries every bundle has: the CLI and the bibliography's worker thread. */
const ENTRIES = {cli: path.join(PIPELINE, 'cli.ts'), 'citeproc-worker': path.join(PIPELINE, 'stages', 'citeproc-worker.ts'), 'svg-worker': path.join(PIPELINE, 'stages', 'svg-worker.ts')};
/** Bumped when the way bundles are written changes. */
const FORMAT = 1;

/**
 * Names what a bundle is made from: the pipeline's files, the libraries it bundles (package.json
 * and the lock file say which versions), the entries, esbuild and Node.
 */
export function fingerprint(entries = {}, {pipelineDir = PIPELINE} = {}) {
  const require = createRequire(import.meta.url);
  const hash = createHash('sha256');
  const all = {...ENTRIES, ...entries};
  hash.update(JSON.stringify({
    format: FORMAT, node: process.version,
    esbuild: require('esbuild/package.json').version,
    entries: Object.entries(all).map(([name, file]) => [name, path.relative(ROOT, file)]).sort(),
  }));
  // The pipeline's files, and the folder of an entry outside it (a benchmark's worker).
  const outside = Object.values(entries).map((file) => path.dirname(file)).filter((dir) => path.relative(pipelineDir, dir).startsWith('..'));
  const files = [...pipelineFiles(pipelineDir).map(({file}) => file), ...[...new Set(outside)].flatMap((dir) => filesUnder(dir))];
  for (const file of files) {
    let bytes;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      continue;
    }
    hash.update(`\0${path.relative(pipelineDir, file)}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex').slice(0, 20);
}

/**
 * The bundled files (name → absolute path) for the CLI, the worker and any extra `entries`
 * (name → TypeScript file), written first if needed. Undefined if they cannot be written
 * (no esbuild, a read-only node_modules): the caller then runs the source through tsx.
 * `cacheDir` must be inside the project: the bundle imports the libraries from node_modules.
 */
export async function bundled(entries = {}, {cacheDir = BUNDLE_CACHE} = {}) {
  const all = {...ENTRIES, ...entries};
  const dir = path.join(cacheDir, fingerprint(entries));
  const outputs = Object.fromEntries(Object.keys(all).map((name) => [name, path.join(dir, `${name}.mjs`)]));
  if (Object.values(outputs).every((file) => fs.existsSync(file))) {
    markUsed(dir);
    return outputs;
  }
  let staging;
  try {
    fs.mkdirSync(cacheDir, {recursive: true});
    staging = fs.mkdtempSync(path.join(cacheDir, '.staging-'));
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: all, outdir: staging, outExtension: {'.js': '.mjs'},
      bundle: true, splitting: true, format: 'esm', platform: 'node', target: `node${process.versions.node.split('.')[0]}`,
      sourcemap: true, logLevel: 'silent',
      // Where the bibliography thread's bundled module will be.
      define: {BOOK_BUNDLE_DIR: JSON.stringify(pathToFileURL(`${dir}/`).href)},
      plugins: [librariesAsModules(), sourceLocations()],
    });
    // Readable by every user (mkdtemp makes it private): a Docker image bundles as root and runs as another user.
    fs.chmodSync(staging, 0o755);
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      // Another process wrote the same bundle first: use it.
      if (!Object.values(outputs).every((file) => fs.existsSync(file))) throw error;
    }
    markUsed(dir);
    pruneBundles(dir, {cacheDir});
    return outputs;
  } catch {
    return undefined;
  } finally {
    if (staging) fs.rmSync(staging, {recursive: true, force: true});
  }
}

/**
 * Which libraries go into the bundle: the ES modules (the unified/remark/rehype family and
 * most of the rest: hundreds of small files, whose loading one by one was most of the start).
 * CommonJS packages (sharp, citation-js, epub-gen-memory, pdf-lib, Puppeteer…; highlight.js
 * aside) stay in node_modules and are imported from there, as they are: they find their own files through
 * `__dirname` and `require`, which a bundle would change.
 */
function librariesAsModules() {
  // CommonJS that reads no files of its own: highlight.js's grammars, 37 files in every build.
  const forced = new Set(['highlight.js']);
  const isModule = new Map();
  const packageOf = (specifier) => {
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  };
  return {
    name: 'libraries-as-modules',
    setup(build) {
      build.onResolve({filter: /^[^./]/}, (args) => {
        // Node's own modules, and a package's private imports (`#name`), are esbuild's to resolve.
        if (args.path.startsWith('node:') || args.path.startsWith('#') || args.kind === 'entry-point') return undefined;
        const name = packageOf(args.path);
        if (forced.has(name)) return undefined;
        // By the copy that this import finds: two versions of a package may differ.
        let manifest;
        try {
          manifest = findManifest(createRequire(path.join(args.resolveDir || ROOT, 'noop.js')), name);
        } catch {}
        if (!manifest) return {path: args.path, external: true};
        if (!isModule.has(manifest)) {
          let type;
          try {
            type = JSON.parse(fs.readFileSync(manifest, 'utf8')).type;
          } catch {}
          isModule.set(manifest, type === 'module');
        }
        return isModule.get(manifest) ? undefined : {path: args.path, external: true};
      });
    },
  };
}

/** The package.json of a package, found from where it is imported. */
function findManifest(require, name) {
  for (const dir of require.resolve.paths(name) ?? []) {
    const file = path.join(dir, name, 'package.json');
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Keeps `import.meta.url` meaning the file it is written in (ours or a library's), so that the
 * paths found from it (templates, package.json, a library's data files) are the same bundled
 * or not.
 */
function sourceLocations() {
  return {
    name: 'source-locations',
    setup(build) {
      build.onLoad({filter: /\.(ts|mts|js|mjs)$/}, async (args) => {
        const source = await fs.promises.readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const loader = /\.m?ts$/.test(args.path) ? 'ts' : 'js';
        return {contents: source.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)), loader, resolveDir: path.dirname(args.path)};
      });
    },
  };
}

const USED = '.used';

/** Rewrites the bundle's `.used` file: its time, set by the file system, says when it was last started. */
function markUsed(dir) {
  try {
    fs.writeFileSync(path.join(dir, USED), '');
  } catch {}
}

/**
 * Removes the bundles of other versions of the source, but `keep` and the `recent` ones most
 * recently started (a process started from one may still load its chunks). Order only, from
 * the file system's times: no clock is read.
 */
export function pruneBundles(keep, {cacheDir = BUNDLE_CACHE, recent = 3} = {}) {
  let names = [];
  try {
    names = fs.readdirSync(cacheDir).filter((name) => !name.startsWith('.'));
  } catch {
    return;
  }
  const lastUsed = (dir) => {
    try {
      return fs.statSync(path.join(dir, USED)).mtimeMs;
    } catch {
      return 0;
    }
  };
  const others = names.map((name) => path.join(cacheDir, name)).filter((dir) => dir !== keep)
    .map((dir) => ({dir, used: lastUsed(dir)})).sort((a, b) => b.used - a.used);
  for (const {dir} of others.slice(recent)) fs.rmSync(dir, {recursive: true, force: true});
}
