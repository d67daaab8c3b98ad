/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package,
 * and inclusive time of the functions whose names are given. For finding the stage that dominates.
 *   tsx pipeline/bench/cpuprofile.ts FILE.cpuprofile [--top N] [--inclusive name1,name2]
 */
import fs from 'node:fs';
import {parseArgs} from 'node:util';

interface Node {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number};
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const pipeline = url.indexOf('/pipeline/');
  if (pipeline >= 0) return url.slice(pipeline + 1);
  return url ? url.replace(/^file:\/\//, '') : '(native)';
}

export function summarise(profile: Profile, top = 25, inclusiveNames: string[] = []): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const total = (profile.endTime - profile.startTime) / 1000;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
    const pkg = where(n.callFrame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + t);
  }
  // Inclusive time: a sample counts once for a name if any frame on its stack has that name.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>(inclusiveNames.map((name) => [name, 0]));
  if (inclusiveNames.length > 0) {
    for (const [id, t] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const name = byId.get(cur)!.callFrame.functionName;
        if (inclusive.has(name) && !seen.has(name)) {
          seen.add(name);
          inclusive.set(name, inclusive.get(name)! + t);
        }
      }
    }
  }
  const rows = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, t]) => `${t.toFixed(0).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
  return [
    `total ${total.toFixed(0)} ms`,
    '', 'self time by package:', rows(byPackage),
    '', 'self time by function:', rows(byFunction),
    ...(inclusiveNames.length ? ['', 'inclusive time:', rows(inclusive)] : []),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const {values, positionals} = parseArgs({allowPositionals: true, options: {top: {type: 'string', default: '25'}, inclusive: {type: 'string', default: ''}}});
  const profile = JSON.parse(fs.readFileSync(positionals[0]!, 'utf8')) as Profile;
  process.stdout.write(`${summarise(profile, Number(values.top), values.inclusive ? values.inclusive.split(',') : [])}\n`);
}
