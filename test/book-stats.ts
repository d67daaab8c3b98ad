/** Counts what a manuscript contains, for the manuscript's own tests (test/manuscript.test.ts). */
import type {Element} from 'hast';
import {visit, SKIP} from '../pipeline/util/visit.ts';
import type {Book} from '../pipeline/model.ts';
import {hasClass} from '../pipeline/util/hast.ts';

export interface DocStats {
  id: string;
  title: string;
  words: number;
}

export interface BookStats {
  chapters: DocStats[];
  words: number;
  figures: number;
  svgFigures: number;
  rasterFigures: number;
  onlineOnlyFigures: number;
  tables: number;
  captionedTables: number;
  footnotes: number;
  codeBlocks: number;
  codeLanguages: Record<string, number>;
  definitionLists: number;
  blockQuotes: number;
  displayEquations: number;
  inlineMath: number;
  chaptersWithMath: string[];
  crossReferences: number;
  chapterLinks: number;
  citations: number;
  indexTerms: number;
  glossaryUses: number;
  partImages: number;
  furtherReadings: number;
}

export function bookStats(book: Book): BookStats {
  const stats: BookStats = {
    chapters: [], words: 0, figures: 0, svgFigures: 0, rasterFigures: 0, onlineOnlyFigures: 0, tables: 0, captionedTables: 0,
    footnotes: 0, codeBlocks: 0, codeLanguages: {}, definitionLists: 0, blockQuotes: 0, displayEquations: 0, inlineMath: 0,
    chaptersWithMath: [], crossReferences: 0, chapterLinks: 0, citations: 0, indexTerms: 0, glossaryUses: 0,
    partImages: book.parts.filter((p) => p.image).length, furtherReadings: 0,
  };
  for (const doc of book.docs) {
    if (doc.kind !== 'chapter') continue;
    let words = 0;
    let math = false;
    visit(doc.tree, (node) => {
      if (node.type === 'text') {
        words += node.value.split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w)).length;
        return;
      }
      if (node.type !== 'element') return;
      const element = node as Element;
      switch (element.tagName) {
        case 'figure': {
          if (hasClass(element, 'table')) {
            stats.captionedTables++;
            break;
          }
          if (hasClass(element, 'listing')) break;
          stats.figures++;
          if (hasClass(element, 'online-only')) stats.onlineOnlyFigures++;
          visit(element, 'element', (img: Element) => {
            if (img.tagName !== 'img') return;
            const src = String(img.properties?.dataAsset ?? img.properties?.src ?? '');
            if (src.endsWith('.svg')) stats.svgFigures++;
            else stats.rasterFigures++;
          });
          break;
        }
        case 'table': stats.tables++; break;
        case 'aside': if (hasClass(element, 'footnote')) stats.footnotes++; break;
        case 'pre': {
          stats.codeBlocks++;
          const code = element.children[0];
          const language = code?.type === 'element'
            ? (code.properties?.className as string[] | undefined)?.find((c) => c.startsWith('language-'))?.slice(9) ?? 'text' : 'text';
          stats.codeLanguages[language] = (stats.codeLanguages[language] ?? 0) + 1;
          return SKIP;
        }
        case 'dl': stats.definitionLists++; break;
        case 'blockquote': stats.blockQuotes++; break;
        case 'math':
          math = true;
          if (element.properties?.display === 'block') stats.displayEquations++;
          else stats.inlineMath++;
          return SKIP;
        case 'a':
          if (hasClass(element, 'xref')) stats.crossReferences++;
          else if (hasClass(element, 'gls')) stats.glossaryUses++;
          else if (hasClass(element, 'cite-link')) stats.citations++;
          else if (typeof element.properties?.href === 'string' && element.properties.href.startsWith('#')
            && !hasClass(element, 'noteref') && !hasClass(element, 'backlink')) {
            const owner = book.ids.get(element.properties.href.slice(1));
            if (owner && owner !== doc.id && owner.startsWith('ch')) stats.chapterLinks++;
          }
          break;
        case 'span':
          if (hasClass(element, 'idx')) stats.indexTerms++;
          else if (hasClass(element, 'gls')) stats.glossaryUses++;
          break;
        case 'h2':
          if (/Further Readings/i.test(String(element.children.map((c) => (c.type === 'text' ? c.value : '')).join('')))) stats.furtherReadings++;
          break;
        case 'code': return SKIP;
      }
      return undefined;
    });
    if (math) stats.chaptersWithMath.push(doc.id);
    stats.chapters.push({id: doc.id, title: doc.title, words});
    stats.words += words;
  }
  return stats;
}
