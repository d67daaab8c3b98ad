/**
 * The bench book's prose machinery: a writer per document (sentences with index and glossary
 * terms, citations, inline code, math, links and footnote calls) and code listings.
 */
import type {Random} from './random.ts';
import {Prose, NOUNS, COMPOUNDS, ADJECTIVES, VERBS, plural} from './prose.ts';

/** A writer for one document: `paragraph`, `cite`, `identifier`, and the prose it wrote (word counts). */
export function chapterWriter(r: Random, docId: string, refs: {glossaryTerms: string[]; bibKeys: string[]}) {
const {glossaryTerms, bibKeys} = refs;
  let idx = 0;
  const prose = new Prose(r, (word, kind) => {
    if (kind === 'noun') {
      if (r.chance(0.012)) {
        idx++;
        const [head, tail] = word.split(' ');
        return tail && r.chance(0.3) ? `:idx[${word}]{term="${tail}" sub="${head}"}` : `:idx[${word}]`;
      }
      if (r.chance(0.004)) {
        const term = r.pick(glossaryTerms);
        return r.chance(0.7) ? `:gls[${term}]` : `:gls[${plural(term)}]{term="${term}"}`;
      }
    }
    if (kind === 'adjective' && r.chance(0.02)) return `*${word}*`;
    return undefined;
  });
  const plain = new Prose(r);
  const cite = () => {
    const n = r.chance(0.8) ? 1 : 2;
    const keys = Array.from({length: n}, () => r.pick(bibKeys));
    if (n === 1 && r.chance(0.2)) return `[@${keys[0]}, p. ${r.int(2, 300)}]`;
    return `[${[...new Set(keys)].map((k) => `@${k}`).join('; ')}]`;
  };
  const identifier = () => `${r.pick(COMPOUNDS)}_${r.pick(NOUNS)}`.replace(/ /g, '_');
  /** A paragraph; `extra` can put a citation, a footnote reference, inline code or math into it. */
  const paragraph = (sentences: number, extra: {footnote?: string; link?: string; xref?: string} = {}) => {
    const out: string[] = [];
    for (let i = 0; i < sentences; i++) {
      let s = prose.sentence();
      if (r.chance(0.05)) s = endWith(s, ` ${cite()}.`);
      if (r.chance(0.04)) s = endWith(s, `, using \`${identifier()}()\`.`);
      if (r.chance(0.015)) s = endWith(s, `, where ${r.pick(['$F_1$', '$p < 0.05$', '$\\hat{y} = f(x)$', '$\\sigma^2$', '$n \\log n$', '$\\alpha = 0.1$'])} matters.`);
      if (r.chance(0.01)) s = endWith(s, `, as described in [the ${r.pick(NOUNS)} guide](https://example.org/${r.pick(NOUNS)}/${r.int(1, 99)}).`);
      out.push(s);
    }
    if (extra.xref) out.splice(r.int(0, out.length), 0, extra.xref);
    if (extra.link) out.splice(r.int(0, out.length), 0, extra.link);
    if (extra.footnote) {
      const at = r.int(0, out.length - 1);
      const sentence = out[at]!;
      out[at] = `${sentence.slice(0, -1)}[^${extra.footnote}]${sentence.slice(-1)}`;
    }
    return out.join(' ');
  };
  return {prose, plain, paragraph, cite, identifier, indexCount: () => idx, docId};
}

/** A code listing of 5–18 lines in `lang`, with identifiers from `ident`. */
export function codeBlock(r: Random, lang: string, ident: () => string): string[] {
  const lines: string[] = [];
  const n = r.int(5, 18);
  for (let i = 0; i < n; i++) {
    const a = ident();
    const b = ident();
    switch (lang) {
      case 'python': lines.push(r.pick([`def ${a}(${b}, threshold=${r.int(1, 9) / 10}):`, `    ${a} = ${b}.${r.pick(VERBS)[0]}(${r.int(1, 500)})`, `    if ${a} > ${r.int(1, 100)}:`, `        return ${b}`, `for ${a} in ${b}:`, `    log.info("${r.pick(NOUNS)} %s", ${a})`, `import ${a.split('_')[0]}`])); break;
      case 'javascript': lines.push(r.pick([`const ${a} = await ${b}(${r.int(1, 99)});`, `export function ${a}(${b}) {`, `  return ${b}.map((x) => x * ${r.int(2, 9)});`, `}`, `if (${a}.length > ${r.int(1, 50)}) throw new Error('${r.pick(NOUNS)}');`])); break;
      case 'yaml': lines.push(r.pick([`${a}: ${r.int(1, 999)}`, `${a}:`, `  ${b}: "${r.pick(ADJECTIVES)}"`, `  - ${b}`, `  replicas: ${r.int(1, 12)}`])); break;
      case 'bash': lines.push(r.pick([`${a.split('_')[0]} --${b.replace(/_/g, '-')} ${r.int(1, 99)}`, `export ${a.toUpperCase()}=${r.int(0, 1)}`, `./${a}.sh | tee ${b}.log`, `docker run --rm ${a}:${r.int(1, 9)}.${r.int(0, 9)}`])); break;
      case 'sql': lines.push(r.pick([`SELECT ${a}, COUNT(*) FROM ${b}`, `  WHERE ${a} > ${r.int(1, 100)}`, `  GROUP BY ${a}`, `JOIN ${b} USING (${a})`, `ORDER BY ${a} DESC LIMIT ${r.int(5, 50)};`])); break;
      default: lines.push(r.pick([`  "${a}": ${r.int(1, 999)},`, `  "${b}": "${r.pick(ADJECTIVES)}",`, `  "${a}": [${r.int(1, 9)}, ${r.int(1, 9)}],`]));
    }
  }
  if (lang === 'json') return ['{', ...lines, `  "end": true`, '}'];
  return lines;
}

/** Replaces the final punctuation of a sentence by `suffix` (no `$` patterns: math has dollars). */
function endWith(sentence: string, suffix: string): string {
  return /[.?]$/.test(sentence) && sentence.endsWith('.') ? sentence.slice(0, -1) + suffix : sentence;
}
