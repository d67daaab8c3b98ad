/** A manuscript with ten different mistakes gets ten diagnostics at the right lines, and exit 1. */
import {describe, it, expect} from 'vitest';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {build} from '../pipeline/build.ts';
import {diagnosticsOf} from '../pipeline/util/messages.ts';
import {FIXTURES, ROOT, tempDir} from './helpers.ts';

const MISTAKES = path.join(FIXTURES, 'mistakes');

describe('a manuscript with ten mistakes', () => {
  it('should get one diagnostic per mistake, each at its line and column', async () => {
    const result = await build({manuscript: MISTAKES, out: tempDir(), targets: ['epub', 'pdf'], checkOnly: true});
    const found = diagnosticsOf(result.files).map((d) =>
      `${path.basename(d.file)}:${d.line}:${d.column} ${d.severity === 'info' ? 'warning' : d.severity} ${d.ruleId}`).sort();
    expect(found).toEqual([
      '01-one.md:11:28 error unknown-citation',
      '01-one.md:11:4 error unknown-reference',
      '01-one.md:11:52 error unknown-glossary-term',
      '01-one.md:15:1 warning unsafe-html',
      '01-one.md:5:1 error missing-image',
      '01-one.md:7:1 warning image-alt',
      '01-one.md:9:38 error missing-anchor',
      '01-one.md:9:5 error missing-link-target',
      '02-two.md:2:17 error frontmatter',
      '02-two.md:6:1 error duplicate-label',
    ]);
    expect(result.ok).toBe(false);
  });

  it('should print them as file:line:column and exit 1 from `check`, writing nothing', () => {
    const out = tempDir();
    const run = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'pipeline/cli.ts', 'check', '--manuscript', MISTAKES, '--out', out], {cwd: ROOT, encoding: 'utf8'});
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/5:1-5:\d+ +error +Cannot find image `img\/missing\.svg`/);
    expect(run.stderr).toMatch(/10 messages \(✖ 8 errors, ⚠ 2 warnings\)/);
  });
});
