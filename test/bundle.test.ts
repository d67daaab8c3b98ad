/**
 * The CLI runs bundled (pipeline/bundle.mjs): the same book as the TypeScript source, a bundle
 * per version of the source, reused until a file changes, and the source through tsx where no
 * bundle can be written.
 */
import {describe, it, expect, onTestFinished} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {pathToFileURL} from 'node:url';
import {bundled, fingerprint, pruneBundles} from '../pipeline/bundle.mjs';
import {buildBook, FIXTURES, ROOT, tempDir} from './helpers.ts';

const MINI = path.join(FIXTURES, 'mini');
const EPOCH = 1_700_000_000;

/** A cache folder of bundles for one test: inside the project, where the libraries resolve from. */
function bundleCache(): string {
  const parent = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(parent, {recursive: true});
  const dir = fs.mkdtempSync(path.join(parent, 'book-pipeline-test-'));
  onTestFinished(() => fs.rmSync(dir, {recursive: true, force: true}));
  return dir;
}

describe('the bundled CLI', () => {
  it('should build the same EPUB as the TypeScript source, its bibliography thread bundled too', async () => {
    const cacheDir = bundleCache();
    const outputs = (await bundled({}, {cacheDir}))!;
    expect(outputs).toBeDefined();
    const dir = path.dirname(outputs.cli!);
    expect(path.dirname(dir)).toBe(cacheDir);
    expect(fs.existsSync(outputs['citeproc-worker']!)).toBe(true);
    // The worker is started from its bundled module, not through tsx.
    const code = fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
    expect(code).toContain(JSON.stringify(pathToFileURL(`${dir}/`).href));
    expect(code).not.toMatch(/from "tsx|import\("tsx/);
    // import.meta.url still names each source file (templates and package.json are found from it).
    expect(code).toContain(JSON.stringify(pathToFileURL(path.join(ROOT, 'pipeline', 'build.ts')).href));

    const out = tempDir();
    const run = spawnSync(process.execPath, [outputs.cli!, 'build', '--manuscript', MINI, '--out', out, '--only', 'epub', '--no-cache', '--quiet'], {
      cwd: ROOT, encoding: 'utf8', env: {...process.env, CI: 'true', SOURCE_DATE_EPOCH: String(EPOCH)},
    });
    expect(run.status, run.stderr).toBe(0);
    const fromBundle = fs.readdirSync(out).filter((f) => f.endsWith('.epub'));
    expect(fromBundle).toHaveLength(1);
    const fromSource = await buildBook(MINI, {targets: ['epub'], sourceDateEpoch: EPOCH});
    expect(fromSource.result.ok).toBe(true);
    const a = fs.readFileSync(path.join(out, fromBundle[0]!));
    const b = fs.readFileSync(fromSource.epub!);
    expect(a.length).toBeGreaterThan(10_000);
    expect(Buffer.compare(a, b)).toBe(0);
  }, 120_000);

  it('should reuse a bundle until the source changes', async () => {
    const cacheDir = bundleCache();
    const first = (await bundled({}, {cacheDir}))!;
    const written = fs.statSync(first.cli!).mtimeMs;
    const again = (await bundled({}, {cacheDir}))!;
    expect(again.cli).toBe(first.cli);
    expect(fs.statSync(again.cli!).mtimeMs).toBe(written);
    expect(fs.readdirSync(cacheDir)).toHaveLength(1);

    // The fingerprint follows the content of every source file, and the entries.
    const copy = tempDir('book-bundle-src-');
    fs.cpSync(path.join(ROOT, 'pipeline'), copy, {recursive: true});
    const before = fingerprint({}, {pipelineDir: copy});
    expect(fingerprint({}, {pipelineDir: copy})).toBe(before);
    fs.appendFileSync(path.join(copy, 'stages', 'resolve.ts'), '\n// an edit\n');
    expect(fingerprint({}, {pipelineDir: copy})).not.toBe(before);
    expect(fingerprint({extra: path.join(ROOT, 'bench', 'worker.ts')})).not.toBe(fingerprint());
  }, 60_000);

  it('should give no bundle where none can be written (bin.js then runs the source through tsx)', async () => {
    const file = path.join(tempDir('book-bundle-'), 'a-file');
    fs.writeFileSync(file, '');
    expect(await bundled({}, {cacheDir: path.join(file, 'cache')})).toBeUndefined();
  });

  it('should keep the bundle in use and the three most recently started others, and prune the rest', () => {
    const cacheDir = tempDir('book-bundle-');
    const make = (name: string, started: string | undefined) => {
      const dir = path.join(cacheDir, name);
      fs.mkdirSync(dir);
      if (started) {
        fs.writeFileSync(path.join(dir, '.used'), '');
        fs.utimesSync(path.join(dir, '.used'), new Date(started), new Date(started));
      }
      return dir;
    };
    const current = make('current', '2026-11-20T12:00:00Z');
    const recent = ['2026-11-27T11:00:00Z', '2026-11-26T12:00:00Z', '2026-11-25T12:00:00Z'].map((t, i) => make(`recent-${i}`, t));
    const old = make('old', '2026-11-24T12:00:00Z');
    const never = make('never-started', undefined);
    fs.mkdirSync(path.join(cacheDir, '.staging-x'));
    pruneBundles(current, {cacheDir});
    expect(fs.existsSync(current)).toBe(true);
    for (const dir of recent) expect(fs.existsSync(dir), dir).toBe(true);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(never)).toBe(false);
    // A bundle being written by another process is not touched.
    expect(fs.existsSync(path.join(cacheDir, '.staging-x'))).toBe(true);
  });
});
