/**
 * Book-wide resolution, after every document is parsed: ids, cross-references, links
 * between chapter files, citations, glossary terms and index entries. Pure.
 */
import type {Element, ElementContent, Root} from 'hast';
import {h} from 'hastscript';
import {fromHtml} from 'hast-util-from-html';
import {visit, SKIP} from '../util/visit.ts';
import {toString} from 'hast-util-to-string';
import GithubSlugger from 'github-slugger';
import {VFile} from 'vfile';
import type {Doc, Label, IndexEntry} from '../model.ts';
import {hasClass} from '../util/hast.ts';
import {type Bibliography, formatCitationsSync, type CitationRequest, type CiteItem, type References} from './bibliography.ts';

export interface GlossaryTerm {
  term: string;
  definition: string;
  id: string;
}

export interface ResolveInput {
  docs: Doc[];
  /** Each document's messages, by document id. */
  files: Map<string, VFile>;
  labels: Label[];
  bibliography: Bibliography;
  glossary: GlossaryTerm[];
  language: string;
  /**
   * Leave citations empty and the bibliography out, for `attachReferences` to add once they are
   * formatted (the build formats them in a worker thread while it checks the images).
   */
  deferReferences?: boolean;
}

export interface Resolved {
  /** Reading order including generated back matter. */
  docs: Doc[];
  labels: Map<string, Label>;
  ids: Map<string, string>;
  index: IndexEntry[];
  /** Cited entries in the order of their first citation. */
  citedKeys: string[];
  /** Every citation in reading order; its text node is filled in by attachReferences. */
  citations: (CitationRequest & {text: {value: string}})[];
}

export function resolveBook(input: ResolveInput): Resolved {
  const {docs, bibliography, glossary, language} = input;
  const ids = new Map<string, string>();
  const byPath = new Map(docs.map((doc) => [doc.path, doc]));
  const generated = new VFile({path: 'book'});
  const fileOf = (doc: Doc): VFile => input.files.get(doc.id) ?? generated;

  // Every id in the book, which must be unique because the print edition is one document.
  // Top-level blocks get ids too: the print page list points at them.
  const labelled = new Set(input.labels.map((l) => l.id));
  for (const doc of docs) {
    let n = 0;
    for (const child of doc.tree.children) {
      if (child.type === 'element' && child.properties && child.properties.id === undefined) child.properties.id = `${doc.id}-p${++n}`;
    }
    ids.set(`${doc.id}-title`, doc.id);
    for (const id of doc.fragments.values()) if (!ids.has(id)) ids.set(id, doc.id);
    visit(doc.tree, 'element', (node: Element) => {
      const id = node.properties?.id;
      if (typeof id !== 'string') return;
      const owner = ids.get(id);
      // Labels (fig-, sec-…) get their own, more precise message below.
      if (owner && owner !== doc.id && !labelled.has(id)) {
        fileOf(doc).message(`Duplicate id \`${id}\`: already used in ${docs.find((d) => d.id === owner)?.path}`, {
          place: node.position, source: 'book', ruleId: 'duplicate-id',
        }).fatal = true;
      }
      ids.set(id, doc.id);
    });
  }

  const labels = new Map<string, Label>();
  for (const label of input.labels) {
    const existing = labels.get(label.label);
    if (existing) {
      const doc = docs.find((d) => d.id === label.docId)!;
      fileOf(doc).message(`Duplicate label \`${label.label}\` (also ${existing.text} in ${docs.find((d) => d.id === existing.docId)?.path})`, {
        place: label.position, source: 'book', ruleId: 'duplicate-label',
      }).fatal = true;
      continue;
    }
    labels.set(label.label, label);
  }

  const glossaryByTerm = new Map(glossary.map((entry) => [entry.term.toLowerCase(), entry]));
  // Cited entries in the order of their first citation (a Set keeps insertion order).
  const cited = new Set<string>();
  const citations: (CitationRequest & {text: {value: string}})[] = [];
  const index = new Map<string, IndexEntry>();
  const addIndex = (term: string, sub: string | undefined, see: string | undefined, anchor?: {id: string; docId: string}) => {
    const key = `${term.toLowerCase()}\u0000${(sub ?? '').toLowerCase()}`;
    let entry = index.get(key);
    if (!entry) {
      entry = {term, ...(sub ? {sub} : {}), ids: []};
      index.set(key, entry);
    }
    if (see) entry.see = see;
    if (anchor) entry.ids.push(anchor);
  };

  for (const doc of docs) {
    const linkedTerms = new Set<string>();
    visit(doc.tree, 'element', (node: Element, position, parent) => {
      const props = node.properties ?? {};
      // Cross-references: @fig-x → "Figure 7.2".
      if (node.tagName === 'a' && hasClass(node, 'xref')) {
        const label = labels.get(String(props.dataRef));
        if (!label) {
          fileOf(doc).message(`Unknown cross-reference \`@${String(props.dataRef)}\``, {
            place: node.position, source: 'book', ruleId: 'unknown-reference',
          }).fatal = true;
          node.tagName = 'span';
          node.properties = {className: ['xref', 'unresolved']};
          node.children = [{type: 'text', value: `??${String(props.dataRef)}`}];
          return SKIP;
        }
        const withPage = props.dataPage !== undefined;
        node.properties = {href: `#${label.id}`, className: ['xref'], dataRef: label.label};
        node.children = [{type: 'text', value: label.text}];
        if (withPage && parent && position !== undefined) {
          // The page is known only once the print edition is laid out; targets fill it in.
          (parent.children as ElementContent[]).splice(position + 1, 0, {
            type: 'element', tagName: 'span', properties: {className: ['pageref'], dataTarget: label.id},
            children: [{type: 'text', value: ' on page '}, {type: 'element', tagName: 'span', properties: {className: ['pageref-number']}, children: []}],
          });
          return [SKIP, position + 2];
        }
        return SKIP;
      }
      // Links between chapter files.
      if (node.tagName === 'a' && typeof props.dataLink === 'string') {
        const targetPath = props.dataLink;
        const targetDoc = byPath.get(targetPath);
        const fragment = String(props.dataFragment ?? '');
        delete props.dataLink;
        delete props.dataFragment;
        if (!targetDoc) {
          const what = targetPath.endsWith('.md') ? 'a chapter that is not in book.yaml' : 'a file that is not part of the book';
          fileOf(doc).message(`Link to ${what}: \`${String(props.href)}\``, {
            place: node.position, source: 'book', ruleId: 'missing-link-target',
          }).fatal = true;
          delete props.href;
          return;
        }
        const id = targetDoc.fragments.get(fragment) ?? (ids.get(fragment) === targetDoc.id ? fragment : undefined);
        if (id === undefined) {
          fileOf(doc).message(`Link to a missing anchor \`#${fragment}\` in ${targetDoc.path}`, {
            place: node.position, source: 'book', ruleId: 'missing-anchor',
          }).fatal = true;
          props.href = `#${targetDoc.fragments.get('')}`;
          return;
        }
        props.href = `#${id}`;
        return;
      }
      // Citations.
      if (node.tagName === 'span' && hasClass(node, 'cite')) {
        const items = JSON.parse(String(props.dataCites)) as CiteItem[];
        const known = items.filter((item) => bibliography.keys.has(item.key));
        for (const item of items) {
          if (!bibliography.keys.has(item.key)) {
            fileOf(doc).message(`Unknown citation key \`@${item.key}\``, {place: node.position, source: 'book', ruleId: 'unknown-citation'}).fatal = true;
          }
        }
        if (known.length === 0) {
          node.children = [{type: 'text', value: items.map((i) => `@${i.key}`).join('; ')}];
          node.properties = {className: ['cite', 'unresolved']};
          return SKIP;
        }
        for (const item of known) cited.add(item.key);
        // The text is filled in once every citation of the book is known (attachReferences).
        const text: {type: 'text'; value: string} = {type: 'text', value: ''};
        citations.push({items: known, mode: props.dataMode === 'narrative' ? 'narrative' : 'paren', text});
        node.properties = {className: ['cite']};
        node.children = [{
          type: 'element', tagName: 'a', properties: {href: `#ref-${known[0]!.key}`, className: ['cite-link']},
          children: [text],
        }];
        return SKIP;
      }
      // Glossary terms: the first use in each document links to the glossary.
      if (node.tagName === 'span' && hasClass(node, 'gls')) {
        const term = String(props.dataTerm);
        const entry = glossaryByTerm.get(term.toLowerCase());
        if (!entry) {
          fileOf(doc).message(`Unknown glossary term \`${term}\``, {place: node.position, source: 'book', ruleId: 'unknown-glossary-term'}).fatal = true;
          node.properties = {className: ['gls']};
          return;
        }
        if (!linkedTerms.has(entry.id) && parent && position !== undefined) {
          linkedTerms.add(entry.id);
          (parent.children as ElementContent[])[position] = {
            type: 'element', tagName: 'a',
            properties: {href: `#${entry.id}`, className: ['gls']},
            children: node.children,
          };
          return SKIP;
        }
        node.properties = {className: ['gls']};
        return;
      }
      // Index entries get anchors.
      if (node.tagName === 'span' && hasClass(node, 'idx')) {
        const id = `${doc.id}-idx-${String(props.dataIndex)}`;
        const term = String(props.dataTerm ?? '').trim();
        const sub = props.dataSub ? String(props.dataSub) : undefined;
        const see = props.dataSee ? String(props.dataSee) : undefined;
        if (term) addIndex(term, sub, see, node.children.length > 0 || !see ? {id, docId: doc.id} : undefined);
        node.properties = {className: ['idx'], id};
        ids.set(id, doc.id);
      }
      return undefined;
    });
  }

  const out = [...docs];
  if (glossary.length > 0) {
    out.push(generatedDoc('back-glossary', 'Glossary', h('dl', {className: ['glossary-entries']},
      [...glossary].sort((a, b) => a.term.localeCompare(b.term, language)).flatMap((entry) => [
        h('dt', {id: entry.id}, entry.term),
        h('dd', entry.definition),
      ]))));
    for (const entry of glossary) ids.set(entry.id, 'back-glossary');
  }
  const entries = [...index.values()].sort((a, b) =>
    a.term.localeCompare(b.term, language, {sensitivity: 'base'}) || (a.sub ?? '').localeCompare(b.sub ?? '', language));
  if (entries.length > 0) {
    out.push(generatedDoc('back-index', 'Index', indexTree(entries, docs)));
  }
  for (const doc of out.slice(docs.length)) {
    ids.set(`${doc.id}-title`, doc.id);
    doc.fragments.set('', `${doc.id}-title`);
  }
  void generated;
  const resolved: Resolved = {docs: out, labels, ids, index: entries, citedKeys: [...cited], citations};
  if (!input.deferReferences) attachReferences(resolved, formatCitationsSync(bibliography, citations, resolved.citedKeys, language));
  return resolved;
}

/** Fills in the citations' texts and adds the bibliography (after the glossary, before the index). */
export function attachReferences(resolved: Resolved, references: References): void {
  resolved.citations.forEach((citation, i) => {
    citation.text.value = references.citations[i] ?? '';
  });
  if (resolved.citedKeys.length === 0) return;
  const doc = generatedDoc('back-bibliography', 'Bibliography', h('div', {className: ['bibliography-entries'], role: 'list'},
    references.bibliography.map((entry) => h('p', {id: `ref-${entry.key}`, className: ['csl-entry'], role: 'listitem'},
      (fromHtml(entry.html.replace(/(https?:\/\/[^\s<]+)/g, '<a href="$1" class="external">$1</a>'), {fragment: true}).children as ElementContent[])))));
  for (const key of resolved.citedKeys) resolved.ids.set(`ref-${key}`, doc.id);
  resolved.ids.set(`${doc.id}-title`, doc.id);
  doc.fragments.set('', `${doc.id}-title`);
  const index = resolved.docs.findIndex((d) => d.id === 'back-index');
  resolved.docs.splice(index < 0 ? resolved.docs.length : index, 0, doc);
}

function generatedDoc(id: string, title: string, body: Element): Doc {
  return {
    id, kind: 'generated', path: `${id}.generated`, displayPath: id, title,
    tree: {type: 'root', children: [body]} as Root,
    fragments: new Map(), sections: [], hasMath: false,
  };
}

/** A two-level index; references link to the places (the PDF target writes page numbers). */
function indexTree(entries: IndexEntry[], docs: Doc[]): Element {
  const docNumber = new Map(docs.map((doc) => [doc.id, doc.number !== undefined ? String(doc.number) : doc.title]));
  const refs = (entry: IndexEntry): ElementContent[] => {
    const out: ElementContent[] = [];
    entry.ids.forEach((anchor, i) => {
      out.push({type: 'text', value: i === 0 ? ', ' : ', '});
      out.push(h('a', {href: `#${anchor.id}`, className: ['index-ref'], dataDoc: anchor.docId}, docNumber.get(anchor.docId) ?? ''));
    });
    if (entry.see) out.push({type: 'text', value: entry.ids.length > 0 ? '; see also ' : '. See '}, h('em', entry.see));
    return out;
  };
  const groups = new Map<string, IndexEntry[]>();
  for (const entry of entries) {
    const letter = entry.term[0]!.toUpperCase();
    const key = /[A-Z]/.test(letter) ? letter : '#';
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const slugger = new GithubSlugger();
  return h('div', {className: ['index-entries']}, [...groups].map(([letter, group]) => {
    const items: Element[] = [];
    let current: Element | undefined;
    let currentTerm = '';
    for (const entry of group) {
      if (entry.sub) {
        if (!current || currentTerm.toLowerCase() !== entry.term.toLowerCase()) {
          current = h('li', [entry.term, h('ul', [])]);
          currentTerm = entry.term;
          items.push(current);
        } else if (!current.children.some((c) => c.type === 'element' && c.tagName === 'ul')) {
          current.children.push(h('ul', []));
        }
        const list = current.children.find((c): c is Element => c.type === 'element' && c.tagName === 'ul')!;
        list.children.push(h('li', [entry.sub, ...refs(entry)]));
      } else {
        current = h('li', [entry.term, ...refs(entry)]);
        currentTerm = entry.term;
        items.push(current);
      }
    }
    const headingId = `index-${slugger.slug(letter === '#' ? 'symbols' : letter)}`;
    return h('section', {className: ['index-group'], ariaLabelledBy: headingId}, [
      h('h2', {id: headingId, className: ['unnumbered']}, letter),
      h('ul', items),
    ]);
  }));
}

export function glossaryFromYaml(files: {path: string; data: unknown; file: VFile}[]): GlossaryTerm[] {
  const slugger = new GithubSlugger();
  const terms: GlossaryTerm[] = [];
  for (const {data, file} of files) {
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      file.message('A glossary file is a mapping of `term: definition`', {place: {line: 1, column: 1}, source: 'book', ruleId: 'glossary'});
      continue;
    }
    for (const [term, definition] of Object.entries(data as Record<string, unknown>)) {
      if (typeof definition !== 'string') {
        file.message(`Glossary term \`${term}\` needs a definition as text`, {source: 'book', ruleId: 'glossary'});
        continue;
      }
      if (terms.some((t) => t.term.toLowerCase() === term.toLowerCase())) {
        file.message(`Glossary term \`${term}\` is defined twice`, {source: 'book', ruleId: 'glossary'});
        continue;
      }
      terms.push({term, definition, id: `gls-${slugger.slug(term)}`});
    }
  }
  return terms;
}

export {toString};
