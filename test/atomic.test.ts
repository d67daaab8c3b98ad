/**
 * Atomic outputs: a build that is interrupted (Ctrl+C, SIGTERM, SIGKILL) or fails leaves the
 * previous files in the output folder byte for byte as they were, and no staging folder
 * behind; one killed outright while staging is cleaned up by the next build. Chrome ends
 * with the build that started it.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {buildBook, ROOT, tempDir} from './helpers.ts';
import {copyFixture, listFiles} from './hostile-helpers.ts';
import {writeOutputsAtomically, OutputError} from '../pipeline/io/output.ts';

let manuscript: string;
let out: string;
let previous: Map<string, Buffer>;

function snapshot(folder: string): Map<string, Buffer> {
  return new Map(listFiles(folder).map((name) => [name, fs.readFileSync(path.join(folder, name))]));
}

function expectUnchanged() {
  const now = snapshot(out);
  expect([...now.keys()]).toEqual([...previous.keys()]);
  for (const [name, bytes] of previous) expect(now.get(name)!.equals(bytes), name).toBe(true);
}

/** Pids of the processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {}
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

/**
 * Starts `book build` as one process (node --import tsx, no wrapper that could outlive it),
 * waits until it is printing the PDF, sends `signal`, and returns how it ended.
 */
async function interruptDuringPdf(signal: NodeJS.Signals) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'pipeline/cli.ts', 'build', '--no-cache', '--manuscript', manuscript, '--out', out], {
    cwd: ROOT, env: {...process.env, CI: '1'}, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let chrome: number[] = [];
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, sig) => resolve({code, signal: sig})));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the build never reached the PDF stage:\n${stderr}`)), 120_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The load stage has ended; the PDF stage starts Chrome next.
      if (/^ {2}load +\d+ ms/m.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`the build ended before it could be interrupted:\n${stderr}`)));
  });
  // Chrome is running (a child of the build) when we interrupt.
  await waitFor(() => (chrome = childrenOf(child.pid!)).length > 0, 30_000);
  child.kill(signal);
  const ended = await exited;
  return {...ended, stderr, chrome};
}

beforeAll(async () => {
  ({manuscript} = copyFixture('mini'));
  out = tempDir('book-atomic-');
  const first = await buildBook(manuscript, {out});
  expect(first.result.ok).toBe(true);
  previous = snapshot(out);
  expect([...previous.keys()]).toEqual(['a-small-test-book.epub', 'a-small-test-book.pdf']);
  // The next build would write different books.
  const chapter = path.join(manuscript, 'chapters/03-gamma.md');
  fs.appendFileSync(chapter, '\nA sentence that only the interrupted builds would print.\n');
});

describe('an interrupted build', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`should leave the previous outputs unchanged after ${signal} during the PDF, saying so`, async () => {
      const {code, stderr, chrome} = await interruptDuringPdf(signal);
      expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(stderr).toContain(`book: interrupted (${signal}); the previous outputs in ${out} are kept`);
      expect(stderr).not.toMatch(/\n\s+at /);
      expectUnchanged();
      expect(fs.readdirSync(out).filter((name) => name.startsWith('.staging-'))).toEqual([]);
      // Chrome went with it.
      expect(chrome.length).toBeGreaterThan(0);
      expect(await waitFor(() => chrome.every((pid) => !alive(pid)), 15_000)).toBe(true);
    });
  }

  it('should leave the previous outputs unchanged after SIGKILL, and take Chrome with it', async () => {
    const {signal, chrome} = await interruptDuringPdf('SIGKILL');
    expect(signal).toBe('SIGKILL');
    expectUnchanged();
    expect(chrome.length).toBeGreaterThan(0);
    expect(await waitFor(() => chrome.every((pid) => !alive(pid)), 15_000)).toBe(true);
  });

  it('should leave the previous outputs unchanged when the manuscript has errors', () => {
    const broken = path.join(manuscript, 'chapters/02-beta.md');
    const text = fs.readFileSync(broken, 'utf8');
    fs.writeFileSync(broken, `${text}\nSee @fig-does-not-exist.\n`);
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'pipeline/cli.ts', 'build', '--no-cache', '--manuscript', manuscript, '--out', out], {
        cwd: ROOT, env: {...process.env, CI: '1'}, encoding: 'utf8',
      });
      expect(run.status).toBe(1);
      expectUnchanged();
    } finally {
      fs.writeFileSync(broken, text);
    }
  });
});

describe('staging folders', () => {
  it('should be removed by the next build when their build was killed, and kept while it runs', async () => {
    // A pid that has certainly ended, and one that is running (another build, as far as we know).
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'});
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], {stdio: 'ignore'});
    const dead = path.join(out, `.staging-${ended.stdout}-abc123`);
    const running = path.join(out, `.staging-${other.pid}-def456`);
    const legacy = path.join(out, '.staging-Xy12Zq');
    for (const dir of [dead, running, legacy]) {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'a-small-test-book.pdf'), 'half a PDF');
    }
    const result = await buildBook(manuscript, {out, targets: ['epub']}).finally(() => other.kill());
    expect(result.result.ok).toBe(true);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(legacy)).toBe(false);
    expect(fs.existsSync(running)).toBe(true);
    fs.rmSync(running, {recursive: true});
    // The new EPUB replaced the old one; the PDF stayed.
    expect(fs.readFileSync(path.join(out, 'a-small-test-book.epub')).equals(previous.get('a-small-test-book.epub')!)).toBe(false);
    expect(fs.readFileSync(path.join(out, 'a-small-test-book.pdf')).equals(previous.get('a-small-test-book.pdf')!)).toBe(true);
  });

  it('should move nothing when writing a file fails, and report the folder clearly', async () => {
    const folder = tempDir();
    fs.writeFileSync(path.join(folder, 'book.epub'), 'old epub');
    fs.writeFileSync(path.join(folder, 'book.pdf'), 'old pdf');
    const outputs = new Map<string, Uint8Array>([['book.epub', Buffer.from('new epub')], ['missing-folder/book.pdf', Buffer.from('new pdf')]]);
    const error = await writeOutputsAtomically(folder, outputs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputError);
    expect((error as Error).message).toMatch(/^Cannot (write|create)/);
    expect(fs.readFileSync(path.join(folder, 'book.epub'), 'utf8')).toBe('old epub');
    expect(fs.readdirSync(folder).sort()).toEqual(['book.epub', 'book.pdf']);
  });
});
