/**
 * Hyphenation for print: soft hyphens in running text, from the `hyphen` package's patterns
 * (Chrome here has no hyphenation dictionaries). The PDF's text layer loses them again in the
 * finish (soft-hyphens.ts), so search and copy see whole words.
 */
import {createRequire} from 'node:module';
import type {Root} from 'hast';
import {visit, SKIP} from '../../util/visit.ts';

const require = createRequire(import.meta.url);

/** Hyphenated forms by pattern module and word (a pure function of both). */
const hyphenated = new Map<string, Map<string, string>>();

/** Soft hyphens in running text (Chrome here has no hyphenation dictionaries). */
export function hyphenate(root: Root, language: string): void {
  const patterns: Record<string, string> = {en: 'hyphen/en-us', 'en-us': 'hyphen/en-us', 'en-gb': 'hyphen/en-gb', de: 'hyphen/de', fr: 'hyphen/fr', es: 'hyphen/es'};
  const module = patterns[language.toLowerCase()] ?? patterns[language.toLowerCase().split('-')[0]!];
  if (!module) return;
  const {hyphenateSync} = require(module) as {hyphenateSync: (text: string, options?: object) => string};
  // Words repeat (and both passes hyphenate the same text): each distinct word is hyphenated once.
  let memo = hyphenated.get(module);
  if (!memo) hyphenated.set(module, (memo = new Map()));
  const skip = new Set(['pre', 'code', 'math', 'h1', 'h2', 'h3', 'h4', 'nav', 'a', 'header', 'table', 'figcaption', 'dt', 'cite']);
  const skipClasses = ['bibliography-entries', 'index-entries', 'copyright-page', 'title-page', 'half-title'];
  visit(root, (node) => {
    if (node.type === 'element') {
      const classes = Array.isArray(node.properties?.className) ? node.properties.className : [];
      if (skip.has(node.tagName) || skipClasses.some((c) => classes.includes(c))) return SKIP;
    }
    if (node.type === 'text' && node.value.length > 5) {
      // Only lower-case words: names, acronyms and product names keep their shape.
      node.value = node.value.replace(/\b[a-z][a-z]{6,}\b/g, (word) => {
        let hyphenated = memo.get(word);
        if (hyphenated === undefined) {
          hyphenated = hyphenateSync(word, {minWordLength: 7});
          memo.set(word, hyphenated);
        }
        return hyphenated;
      });
    }
    return undefined;
  });
}

