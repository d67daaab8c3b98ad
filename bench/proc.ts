/**
 * Runs a command and measures it from the outside: wall time, and peak memory of its whole
 * process tree (the command, and every process it starts, Chrome's included), sampled from
 * /proc every 100 ms. RSS summed over processes counts shared pages (libraries, Chrome's
 * shared memory) once per process, so it over-states; PSS (from smaps_rollup) shares them out
 * and is the fairer total. Both are reported.
 */
import fs from 'node:fs';
import {spawn} from 'node:child_process';

const PAGE = 4096;
/** USER_HZ: 100 on every Linux we run on. */
const CLOCK_TICKS = 100;

export interface TreeSample {
  rss: number;
  pss: number;
  processes: number;
  /** CPU time so far (user + system, clock ticks) of each live process of the tree. */
  ticks: Map<number, number>;
  /** Each process: its kind (command name, Chrome's --type) and memory. */
  processList: {what: string; rss: number; pss: number}[];
}

export interface Measured {
  code: number | null;
  wallMs: number;
  peakRss: number;
  peakPss: number;
  peakProcesses: number;
  /** The processes at the sample with the highest PSS (RSS without PSS). */
  atPeak: TreeSample['processList'];
  /** User + system CPU time of the command and every descendant it waited for (from `times`). */
  cpuMs?: number;
  /** User + system CPU time summed over every process seen in the samples (misses the last 100 ms of each). */
  sampledCpuMs: number;
  stdout: string;
  stderr: string;
}

/** Every descendant of `root` (and root itself), from /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may contain spaces and parentheses.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(after[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {}
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function sampleTree(root: number, withPss: boolean): TreeSample {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  const ticks = new Map<number, number>();
  const processList: TreeSample['processList'] = [];
  for (const pid of processTree(root)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after "pid (comm)".
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      const statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
      const processRss = Number(statm[1]) * PAGE;
      rss += processRss;
      processes++;
      let processPss = 0;
      if (withPss) {
        const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
        const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
        if (match) processPss = Number(match[1]) * 1024;
        pss += processPss;
      }
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      let what = comm;
      if (/chrom/i.test(comm)) {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        what = `chromium ${/--type=([\w-]+)/.exec(cmdline)?.[1] ?? 'browser'}${/--utility-sub-type=[\w.]*?(\w+)\.mojom/.exec(cmdline)?.[1] ? ` (${/--utility-sub-type=[\w.]*?(\w+)\.mojom/.exec(cmdline)![1]})` : ''}`;
      }
      processList.push({what, rss: processRss, pss: processPss});
    } catch {}
  }
  return {rss, pss, processes, ticks, processList};
}

const TIMES = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/;

/**
 * Runs `command` with `args`, sampling its process tree every `intervalMs`. The command runs
 * under `sh -c '…; times'`, whose second line is the CPU time of the waited-for descendants
 * (Chrome reaps its own helpers, so their time is included).
 */
export function measure(command: string, args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv; intervalMs?: number; timeoutMs?: number} = {}): Promise<Measured> {
  const intervalMs = options.intervalMs ?? 100;
  const canPss = fs.existsSync('/proc/self/smaps_rollup');
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('/bin/sh', ['-c', '"$@"; code=$?; printf "\\n" >&2; times >&2; exit $code', 'sh', command, ...args], {
      cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    let peakRss = 0;
    let peakPss = 0;
    let peakProcesses = 0;
    const lastTicks = new Map<number, number>();
    let atPeak: TreeSample['processList'] = [];
    let peakKey = 0;
    const sample = () => {
      if (child.pid === undefined) return;
      const s = sampleTree(child.pid, canPss);
      if ((canPss ? s.pss : s.rss) > peakKey) {
        peakKey = canPss ? s.pss : s.rss;
        atPeak = s.processList;
      }
      for (const [pid, t] of s.ticks) lastTicks.set(pid, Math.max(t, lastTicks.get(pid) ?? 0));
      peakRss = Math.max(peakRss, s.rss);
      peakPss = Math.max(peakPss, s.pss);
      peakProcesses = Math.max(peakProcesses, s.processes);
    };
    const timer = setInterval(sample, intervalMs);
    const killer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', (error) => {
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      reject(error);
    });
    child.on('close', (code) => {
      const wallMs = performance.now() - start;
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      const times = TIMES.exec(stderr);
      const cpuMs = times ? (Number(times[5]) * 60 + Number(times[6]) + Number(times[7]) * 60 + Number(times[8])) * 1000 : undefined;
      if (times) stderr = stderr.slice(0, times.index).replace(/\n$/, '');
      const sampledCpuMs = ([...lastTicks.values()].reduce((a, b) => a + b, 0) * 1000) / CLOCK_TICKS;
      resolve({code, wallMs, peakRss, peakPss, peakProcesses, atPeak, stdout, stderr, sampledCpuMs, ...(cpuMs !== undefined ? {cpuMs} : {})});
    });
  });
}
