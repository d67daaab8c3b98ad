/**
 * Quality gates on a built EPUB: EPUBCheck (Java) and Ace by DAISY. Edge module: runs
 * external programs. Used by `book check --gates`, CI and the tests.
 */
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {findChrome} from './targets/pdf/chrome.ts';

const require = createRequire(import.meta.url);
export const EPUBCHECK_JAR = process.env.EPUBCHECK_JAR ?? '/usr/share/java/epubcheck.jar';

export interface GateResult {
  gate: 'epubcheck' | 'ace';
  ok: boolean;
  /** One line per problem. */
  problems: string[];
  output: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{code: number; output: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {env, stdio: ['ignore', 'pipe', 'pipe']});
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({code: code ?? 1, output}));
  });
}

export async function epubcheckGate(epub: string): Promise<GateResult> {
  if (!fs.existsSync(EPUBCHECK_JAR)) {
    throw new Error(`EPUBCheck not found at ${EPUBCHECK_JAR}; install it (Debian: apt-get install epubcheck) or set EPUBCHECK_JAR`);
  }
  let result;
  try {
    result = await run('java', ['-jar', EPUBCHECK_JAR, '--failonwarnings', epub]);
  } catch {
    throw new Error('Java is needed for EPUBCheck; install a Java runtime (Debian: apt-get install default-jre-headless)');
  }
  const problems = result.output.split('\n').filter((line) => /^(FATAL|ERROR|WARNING)\(/.test(line));
  return {gate: 'epubcheck', ok: result.code === 0 && problems.length === 0, problems, output: result.output};
}

export async function aceGate(epub: string): Promise<GateResult> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'book-ace-'));
  try {
    const cli = require.resolve('@daisy/ace-cli/bin/ace.js');
    const env = {...process.env, PUPPETEER_EXECUTABLE_PATH: process.env.PUPPETEER_EXECUTABLE_PATH ?? findChrome(), ACE_TIMEOUT_INITIAL: process.env.ACE_TIMEOUT_INITIAL ?? '120000'};
    const result = await run(process.execPath, [cli, '-f', '-s', '-o', out, epub], env);
    const reportPath = path.join(out, 'report.json');
    if (!fs.existsSync(reportPath)) return {gate: 'ace', ok: false, problems: [`Ace did not write a report: ${result.output.slice(0, 500)}`], output: result.output};
    const report = JSON.parse(fs.readFileSync(reportPath, 'utf8')) as AceReport;
    const problems = report.assertions.flatMap((document) => document.assertions.map((assertion) =>
      `${document['earl:testSubject']?.url ?? ''}: ${assertion['earl:test']['dct:title']} (${assertion['earl:test']['earl:impact']}) ${assertion['earl:result']['dct:description'] ?? ''}`.trim()));
    return {gate: 'ace', ok: report['earl:result']['earl:outcome'] === 'pass' && problems.length === 0, problems, output: result.output};
  } finally {
    fs.rmSync(out, {recursive: true, force: true});
  }
}

interface AceReport {
  'earl:result': {'earl:outcome': string};
  assertions: {
    'earl:testSubject'?: {url?: string};
    assertions: {'earl:test': {'dct:title': string; 'earl:impact': string}; 'earl:result': {'dct:description'?: string}}[];
  }[];
}
