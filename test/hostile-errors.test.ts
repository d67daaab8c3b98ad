/**
 * Broken manuscripts and broken environments get one clear message and a non-zero exit
 * (1 for the manuscript, 2 for usage and environment), never a stack trace unless --debug.
 */
import {describe, it, expect} from 'vitest';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {ROOT, tempDir} from './helpers.ts';
import {copyFixture} from './hostile-helpers.ts';
import {outputError} from '../pipeline/io/output.ts';
import {parseDoc} from '../pipeline/stages/markdown.ts';

const STACK = /\n\s+at .+[(:]\d+/;

/** Runs the CLI as one node process; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{status: number | null; stderr: string; stdout: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'pipeline/cli.ts', ...args], {
      cwd: ROOT, env: {...process.env, CI: '1', SOURCE_DATE_EPOCH: undefined, ...env}, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({status, stderr, stdout}));
  });
}

function mini() {
  return copyFixture('mini').manuscript;
}

describe('usage errors', () => {
  it('should reject an unknown option with exit 2 and no stack trace', async () => {
    const run = await cli(['build', '--bogus']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^book: Unknown option '--bogus'/);
    expect(run.stderr).toContain('Run with --help for usage.');
    expect(run.stderr).not.toMatch(STACK);
  });

  it('should reject an invalid SOURCE_DATE_EPOCH before doing anything', async () => {
    const manuscript = mini();
    for (const value of ['abc', '-5', '1.5', '1e9', '99999999999999', '4102444800']) {
      const run = await cli(['check', '--no-cache', '--manuscript', manuscript], {SOURCE_DATE_EPOCH: value});
      expect(run.status, value).toBe(2);
      expect(run.stderr, value).toContain(`book: SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (at most 4102444799, the end of 2099), not \`${value}\``);
      expect(run.stderr).not.toMatch(/^ {2}load/m);
      expect(run.stderr).not.toMatch(STACK);
    }
    const ok = await cli(['check', '--no-cache', '--manuscript', manuscript], {SOURCE_DATE_EPOCH: '1700000000'});
    expect(ok.status).toBe(0);
  });
});

describe('environment errors', () => {
  it('should name a missing Chrome given by PUPPETEER_EXECUTABLE_PATH, exit 2', async () => {
    const out = tempDir();
    const missing = path.join(out, 'no-such-chrome');
    const run = await cli(['build', '--no-cache', '--only', 'pdf', '--manuscript', mini(), '--out', out], {PUPPETEER_EXECUTABLE_PATH: missing});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`book: PUPPETEER_EXECUTABLE_PATH is set to \`${missing}\`, which is not a Chrome or Chromium program; fix or unset it`);
    expect(run.stderr).not.toMatch(STACK);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('should refuse an output folder that is a file, before printing anything', async () => {
    const file = path.join(tempDir(), 'dist');
    fs.writeFileSync(file, 'not a folder');
    const run = await cli(['build', '--no-cache', '--manuscript', mini(), '--out', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`book: Cannot use \`${file}\` as the output folder: a file is in the way (it or a folder above it is not a folder)`);
    expect(run.stderr).not.toMatch(/^ {2}pdf/m);
    expect(run.stderr).not.toMatch(STACK);
    expect(fs.readFileSync(file, 'utf8')).toBe('not a folder');
    // --debug adds the stack trace.
    const debug = await cli(['build', '--no-cache', '--debug', '--manuscript', mini(), '--out', path.join(file, 'sub')]);
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(STACK);
  });

  it('should refuse an output folder that cannot be created (under /proc), without hanging', async () => {
    const run = await cli(['build', '--no-cache', '--manuscript', mini(), '--out', '/proc/book-pipeline-test/dist']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/book: Cannot (create the output folder|write to the output folder) `\/proc\/book-pipeline-test\/dist`/);
    expect(run.stderr).not.toMatch(STACK);
  });

  it.skipIf(process.getuid?.() === 0)('should refuse a read-only output folder', async () => {
    const folder = tempDir();
    fs.chmodSync(folder, 0o555);
    try {
      const run = await cli(['build', '--no-cache', '--manuscript', mini(), '--out', folder]);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`book: Cannot write to the output folder \`${folder}\`: permission denied (is it writable?)`);
    } finally {
      fs.chmodSync(folder, 0o755);
    }
  });

  it('should explain a full disk and other write failures in one sentence', () => {
    const error = (code: string) => outputError(Object.assign(new Error(`${code}: low-level message`), {code}), 'dist').message;
    expect(error('ENOSPC')).toBe('Cannot write the outputs to `dist`: the disk is full (or the quota is used up)');
    expect(error('EDQUOT')).toBe('Cannot write the outputs to `dist`: the disk is full (or the quota is used up)');
    expect(error('EACCES')).toBe('Cannot write to the output folder `dist`: permission denied (is it writable?)');
    expect(error('EROFS')).toBe('Cannot write to the output folder `dist`: it is on a read-only file system');
    expect(error('EIO')).toBe('Cannot write the outputs to `dist`: EIO: low-level message');
  });
});

describe('manuscript errors', () => {
  it('should point at the line of malformed YAML in book.yaml, exit 1', async () => {
    const manuscript = mini();
    const config = path.join(manuscript, 'book.yaml');
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('title: A Small Test Book', 'title: [A Small Test Book'));
    const run = await cli(['check', '--no-cache', '--manuscript', manuscript]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/book\.yaml\n\s*2:1\s+error\s+Malformed YAML/);
    expect(run.stderr).not.toMatch(STACK);
  });

  it('should stop a YAML alias bomb in book.yaml quickly, with a message and no stack trace', async () => {
    const manuscript = mini();
    const config = path.join(manuscript, 'book.yaml');
    const bomb = ['x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
      ...Array.from({length: 9}, (_, i) => `x${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)].join('\n');
    fs.writeFileSync(config, `${bomb}\n${fs.readFileSync(config, 'utf8')}`);
    const run = await cli(['check', '--no-cache', '--manuscript', manuscript]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/book\.yaml\n1:1 +error +Malformed YAML: .*alias/i);
    expect(run.stderr).not.toMatch(STACK);
  });

  it('should reject executable front matter and point at malformed front matter', () => {
    const parse = (text: string) => parseDoc({id: 'ch01', kind: 'chapter', path: 'chapters/01.md', text, number: 1}).file.messages
      .filter((m) => m.fatal).map((m) => `${m.line}:${m.column} ${m.ruleId} ${m.reason}`);
    const js = 'Front matter must be YAML (`---`); other kinds such as `---js` are not run';
    expect(parse('---js\nrequire("child_process").execSync("touch /tmp/pwned")\n---\n# T\n')).toEqual([`1:1 frontmatter ${js}`]);
    expect(parse('--- javascript\nmodule.exports = {}\n---\n# T\n')).toEqual([`1:1 frontmatter ${js}`]);
    expect(parse('\uFEFF---coffee\nx: 1\n---\n# T\n')).toEqual([`1:1 frontmatter ${js}`]);
    expect(parse('---\ntitle: [unclosed\n---\n# T\n')).toEqual([expect.stringMatching(/^2:\d+ frontmatter Malformed front matter/)]);
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x]', ...Array.from({length: 9}, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)];
    expect(parse(`---\n${bomb.join('\n')}\n---\n# T\n`)).toEqual([expect.stringMatching(/frontmatter Malformed front matter: .*alias/i)]);
    expect(parse('---\ntitle: Fine\n---\n# T\n')).toEqual([]);
  });

  it('should say once why an image source was removed, and keep a bad formula short', () => {
    const messages = parseDoc({
      id: 'ch01', kind: 'chapter', path: 'chapters/01.md', number: 1,
      text: `# T\n\n<img src="javascript:alert(1)" alt="x">\n\n$\\frac{${'a'.repeat(5_000)}$\n`,
    }).file.messages;
    expect(messages.map((m) => `${m.line}:${m.column} ${m.ruleId}`)).toEqual(['3:1 remote-image', '5:1 math']);
    const math = messages.find((m) => m.ruleId === 'math')!;
    expect(math.reason).toMatch(/^Cannot typeset math `\\frac\{a+…`: /);
    expect(math.reason.length).toBeLessThan(320);
  });

  it('should report a missing manuscript folder as a manuscript error, exit 1', async () => {
    const run = await cli(['check', '--no-cache', '--manuscript', path.join(tempDir(), 'nowhere')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Cannot find book\.yaml in `.*nowhere`/);
    expect(run.stderr).not.toMatch(STACK);
  });
});
