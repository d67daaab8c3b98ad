#!/usr/bin/env node
// Markdown summary of a build for a pull request's job summary:
//   node .ci/summary.mjs [dist] >> "$GITHUB_STEP_SUMMARY"
// Reads the outputs in dist/ (sizes; the PDF's pages via pdfinfo) and the reports the workflow
// leaves in dist/reports/: build.log (the CLI's closing line counts errors and warnings),
// epubcheck.json (EPUBCheck --json) and ace/report.json (Ace by DAISY). Whatever is missing is
// said so; the script itself never fails the job.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const dist = process.argv[2] ?? 'dist';
const reports = path.join(dist, 'reports');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function size(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

function pages(pdf) {
  try {
    const info = execFileSync('pdfinfo', [pdf], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});
    return /^Pages:\s+(\d+)/m.exec(info)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

const lines = ['## Book build', ''];
const files = fs.existsSync(dist) ? fs.readdirSync(dist).filter((name) => /\.(epub|pdf)$/.test(name)).sort() : [];
if (files.length === 0) {
  lines.push('No EPUB or PDF was built.');
} else {
  lines.push('| file | size | pages |', '|---|--:|--:|');
  for (const name of files) {
    const file = path.join(dist, name);
    lines.push(`| \`${name}\` | ${size(fs.statSync(file).size)} | ${name.endsWith('.pdf') ? pages(file) : ''} |`);
  }
}
lines.push('');

const checks = [];
let log = '';
try {
  log = fs.readFileSync(path.join(reports, 'build.log'), 'utf8');
} catch {
  // no build log
}
const closing = [...log.matchAll(/(\d+) error\(s\), (\d+) warning\(s\)/g)].at(-1);
checks.push(closing ? `| build | ${closing[1]} | ${closing[2]} |` : '| build | no report | |');

const epubcheck = readJson(path.join(reports, 'epubcheck.json'))?.checker;
checks.push(epubcheck
  ? `| EPUBCheck ${epubcheck.checkerVersion ?? ''} | ${epubcheck.nFatal + epubcheck.nError} | ${epubcheck.nWarning} |`
  : '| EPUBCheck | no report | |');

const ace = readJson(path.join(reports, 'ace', 'report.json'));
if (ace) {
  const impacts = {};
  for (const document of ace.assertions ?? []) {
    for (const assertion of document.assertions ?? []) {
      const impact = assertion['earl:test']?.['earl:impact'] ?? 'unknown';
      impacts[impact] = (impacts[impact] ?? 0) + 1;
    }
  }
  const serious = (impacts.critical ?? 0) + (impacts.serious ?? 0);
  const other = Object.values(impacts).reduce((a, b) => a + b, 0) - serious;
  checks.push(`| Ace by DAISY (${ace['earl:result']?.['earl:outcome'] ?? '?'}) | ${serious} | ${other} |`);
} else {
  checks.push('| Ace by DAISY | no report | |');
}
lines.push('| check | errors | warnings |', '|---|--:|--:|', ...checks, '');
if (ace) lines.push('Ace counts critical and serious violations as errors, moderate and minor ones as warnings.', '');
lines.push('The EPUB, the PDF and the reports are in the run\'s `book` artifact.', '');

process.stdout.write(`${lines.join('\n')}\n`);
