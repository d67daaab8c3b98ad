// The pipeline's shape, as the README's "How it works" draws it: no module imports itself back
// (through any chain of static imports, types included), no module grows past about 400 lines,
// and the middle of the pipeline (stages, plugins, util) touches neither the file system nor
// the browser.
import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {ROOT} from './helpers.ts';

const SOURCE = /\.(ts|mts|mjs)$/;
const DECLARATIONS = /\.d\.m?ts$/;

function modulesBelow(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...modulesBelow(full));
    else if (SOURCE.test(entry.name) && !DECLARATIONS.test(entry.name)) found.push(full);
  }
  return found.sort();
}

/** The specifiers a module imports or re-exports statically (`import type` too; `await import()` not). */
function staticImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w*\s{},$]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** Every cycle of a graph, each as the chain of nodes from one back to itself. */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

function importGraph(dirs: string[]): Map<string, string[]> {
  const modules = dirs.flatMap((dir) => modulesBelow(dir));
  const known = new Set(modules);
  const graph = new Map<string, string[]>();
  for (const file of modules) {
    const local = staticImports(fs.readFileSync(file, 'utf8'))
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => path.resolve(path.dirname(file), spec));
    for (const target of local) expect(known.has(target), `${path.relative(ROOT, file)} imports ${target}, which is not a module`).toBe(true);
    graph.set(path.relative(ROOT, file), local.map((target) => path.relative(ROOT, target)));
  }
  return graph;
}

describe('the pipeline’s shape', () => {
  it('should find cycles where there are some (the check itself)', () => {
    expect(staticImports(`import a from './a.ts';\nimport type {B} from "./b.ts";\nexport {c} from './c.ts';\nconst d = await import('./d.ts');\nimport {\n  e,\n  f,\n} from './e.ts';`))
      .toEqual(['./a.ts', './b.ts', './c.ts', './e.ts']);
    expect(cyclesOf(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(cyclesOf(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });

  it('should have no import cycle in pipeline/ or bench/', () => {
    const graph = importGraph([path.join(ROOT, 'pipeline'), path.join(ROOT, 'bench')]);
    expect(graph.size).toBeGreaterThan(80);
    expect(cyclesOf(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('should keep every module of pipeline/ and bench/ under about 400 lines', () => {
    const long = [...modulesBelow(path.join(ROOT, 'pipeline')), ...modulesBelow(path.join(ROOT, 'bench'))]
      .map((file) => ({file: path.relative(ROOT, file), lines: fs.readFileSync(file, 'utf8').split('\n').length}))
      .filter(({lines}) => lines > 410);
    expect(long).toEqual([]);
  });

  it('should keep the file system and the browser out of stages, plugins and util', () => {
    const edges = /^(node:)?(fs|fs\/promises|child_process)$|^puppeteer/;
    const found: string[] = [];
    for (const dir of ['stages', 'plugins', 'util']) {
      for (const file of modulesBelow(path.join(ROOT, 'pipeline', dir))) {
        for (const spec of staticImports(fs.readFileSync(file, 'utf8'))) {
          if (edges.test(spec)) found.push(`${path.relative(ROOT, file)}: ${spec}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it('should draw the flow in the README with folders that exist, and link pages that exist', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const howItWorks = readme.split(/^## /m).find((section) => section.startsWith('How it works'))!;
    const steps = ['read', 'BookSource', 'assemble', 'Book', 'paginate', 'targets', 'write', 'dist/'];
    const at = steps.map((step) => howItWorks.search(new RegExp(`(^|\\s)${step.replace('/', '\\/')}(\\s|:)`, 'm')));
    expect(at.every((index) => index >= 0), `steps ${steps.filter((_, i) => at[i]! < 0).join(', ')} missing`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const named = [...howItWorks.matchAll(/pipeline\/[\w./-]+/g)].map((match) => match[0]);
    expect(named.length).toBeGreaterThan(8);
    for (const name of named) expect(fs.existsSync(path.join(ROOT, name)), name).toBe(true);
    for (const page of ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((name) => `docs/${name}`)]) {
      // Links of the prose, not the examples in code.
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+\.md)(#[^)]*)?\)/g)) {
        expect(fs.existsSync(path.join(ROOT, path.dirname(page), target!)), `${page} links to ${target}`).toBe(true);
      }
    }
    expect(readme).toContain('](docs/architecture.md)');
  });
});
