/**
 * The print document's side of page-bottom footnotes (footnotes.ts plans them): the notes taken
 * out of each chapter's end, a mark at every call and at every block's first line, the floats
 * put where the plan says, and the document that measures each note. Pure.
 */
import type {Element, ElementContent, Root} from 'hast';
import {h} from 'hastscript';
import {visit, SKIP} from '../../util/visit.ts';
import {blockIdOf, endOf, floatId, hasClass, lineId, measureId, FLOAT_CLASS, MEASURE_RULE, type FootSpec, type Note, type NoteBlock, type NotePlan} from './footnotes.ts';

/**
 * Blocks whose lines flow around a float: a table, figure, listing or equation beside a float
 * as wide as the text would be squeezed (and Chrome would shrink the whole print).
 */
const FLOWING = new Set(['p', 'ul', 'ol', 'dl', 'blockquote', 'h2', 'h3', 'h4', 'h5', 'h6']);

/** Each top-level block's children with ids, in order: where a page's notes may stand (before the floats go in). */
export function noteBlocks(root: Root): Map<string, NoteBlock[]> {
  const out = new Map<string, NoteBlock[]>();
  for (const block of root.children) {
    if (block.type !== 'element') continue;
    out.set(blockIdOf(block), block.children.flatMap((c) => (c.type === 'element' && typeof c.properties?.id === 'string' ? [{id: c.properties.id, flowing: FLOWING.has(c.tagName)}] : [])));
  }
  return out;
}


/**
 * Takes the notes out of each chapter's end-of-chapter "Notes" section, puts a zero-size mark
 * at every call (Chrome records an inline link's page at the start of its paragraph), and
 * returns the notes in reading order with their `<aside>`s.
 */
export function takeNotes(root: Root): {notes: Note[]; asides: Map<string, Element>; inside: Set<string>} {
  const notes: Note[] = [];
  const asides = new Map<string, Element>();
  const inside = new Set<string>();
  for (const block of root.children) {
    if (block.type !== 'element') continue;
    const docId = blockIdOf(block);
    const calls = new Map<string, string>();
    block.children = block.children.filter((child) => {
      if (child.type !== 'element' || !hasClass(child, 'footnotes')) return true;
      for (const aside of child.children) {
        if (aside.type !== 'element' || aside.tagName !== 'aside' || typeof aside.properties?.id !== 'string') continue;
        asides.set(aside.properties.id, aside);
        visit(aside, 'element', (node: Element) => {
          if (typeof node.properties?.id === 'string') inside.add(node.properties.id);
        });
      }
      return false;
    });
    visit(block, 'element', (node: Element) => {
      if (node.tagName !== 'a' || !hasClass(node, 'noteref') || typeof node.properties?.href !== 'string') return;
      const noteId = node.properties.href.slice(1);
      const callId = typeof node.properties.id === 'string' ? node.properties.id : `${noteId}--call-${calls.size}`;
      delete node.properties.id;
      node.children.unshift({type: 'element', tagName: 'span', properties: {id: callId, className: ['anchor', 'note-call']}, children: []});
      if (!calls.has(noteId)) {
        calls.set(noteId, callId);
        notes.push({id: noteId, callId, docId});
      }
      return SKIP;
    });
    bindCalls(block);
  }
  return {notes: notes.filter((note) => asides.has(note.id)), asides, inside};
}

/**
 * Puts each planned float where its spec says; notes no float holds (not placed yet, or the
 * passes gave up) go back into a "Notes" section at the end of their chapter, so none is lost.
 */
export function placeNotes(root: Root, notes: Note[], asides: Map<string, Element>, plan: NotePlan): void {
  const placed = new Set<string>();
  const floats = new Map<string, {spec: FootSpec; docId: string}>();
  for (const [docId, specs] of plan) {
    for (const spec of specs) {
      if (spec.height > 0) floats.set(spec.anchor.id, {spec, docId});
      for (const id of spec.notes) placed.add(id);
    }
  }
  const floatOf = (docId: string, spec: FootSpec): Element => h('div', {
    id: floatId(docId, spec.page), className: [FLOAT_CLASS],
    style: `height: ${spec.height.toFixed(2)}pt; shape-outside: inset(${Math.max(0, spec.height - spec.reserve).toFixed(2)}pt 0 0 0);`,
  }, spec.notes.length > 0 ? [h('div', {className: ['page-notes-rule'], ariaHidden: 'true'}), ...spec.notes.map((id) => asides.get(id)!)] : []);
  for (const block of root.children) {
    if (block.type !== 'element') continue;
    visit(block, 'element', (node: Element) => {
      node.children = node.children.flatMap((child): ElementContent[] => {
        if (child.type !== 'element') return [child];
        const id = child.properties?.id;
        const before = typeof id === 'string' ? floats.get(id) : undefined;
        if (before?.spec.anchor.kind === 'before') return [floatOf(before.docId, before.spec), child];
        if (hasClass(child, 'noteref')) {
          const mark = child.children[0];
          const callId = mark?.type === 'element' ? mark.properties?.id : undefined;
          const after = typeof callId === 'string' ? floats.get(callId) : undefined;
          if (after?.spec.anchor.kind === 'call') return [child, floatOf(after.docId, after.spec)];
        }
        return [child];
      });
    });
    const docId = blockIdOf(block);
    const left = notes.filter((note) => note.docId === docId && !placed.has(note.id));
    if (left.length > 0) {
      block.children.push(h('section', {className: ['footnotes'], ariaLabel: 'Notes'}, [
        h('h2', {className: ['footnotes-title', 'unnumbered']}, 'Notes'), ...left.map((note) => asides.get(note.id)!),
      ]));
    }
  }
}


const LINE_TAGS = new Set(['p', 'h2', 'h3', 'h4', 'h5', 'h6', 'dt']);

/**
 * Marks the first line of every paragraph and heading of the chapters that have notes. Chrome
 * records a block where its box starts; beside a page's notes a box can start on one page and
 * its first line (kept with the next, or an orphan) on the next. Returns the blocks' ids.
 */
export function markFirstLines(root: Root, docIds: Set<string>): string[] {
  const ids: string[] = [];
  for (const block of root.children) {
    if (block.type !== 'element' || !docIds.has(blockIdOf(block))) continue;
    for (const child of block.children) {
      if (child.type !== 'element' || !LINE_TAGS.has(child.tagName) || typeof child.properties?.id !== 'string') continue;
      child.children.unshift({type: 'element', tagName: 'span', properties: {id: lineId(child.properties.id), className: ['anchor']}, children: []});
      ids.push(child.properties.id);
    }
  }
  return ids;
}

/** The measuring document's body: the rule, then every note on a page of its own, each followed by an end mark. */
export function measureBody(notes: Note[], asides: Map<string, Element>): ElementContent[] {
  const item = (id: string, content: ElementContent[]): ElementContent[] => [
    h('div', {id, className: [FLOAT_CLASS, 'page-notes-measure']}, content),
    h('div', {id: endOf(id), className: ['page-notes-end']}),
  ];
  return [
    h('section', {className: ['chapter', 'notes-measure']}, [
      ...item(MEASURE_RULE, [h('div', {className: ['page-notes-rule']})]),
      ...notes.flatMap((note) => item(measureId(note.id), [asides.get(note.id)!])),
    ]),
  ];
}

/** Ids the measuring document's print must record. */
export function measureIds(notes: Note[]): string[] {
  return [MEASURE_RULE, ...notes.map((n) => measureId(n.id))].flatMap((id) => [id, endOf(id)]);
}


/**
 * A call mark never starts a line: the word before it and the call (its zero-size mark is an
 * atomic inline, which Chrome may break around) are kept together.
 */
function bindCalls(tree: Element): void {
  visit(tree, 'element', (node: Element) => {
    if (hasClass(node, 'note-call-word')) return SKIP;
    for (let i = 1; i < node.children.length; i++) {
      const call = node.children[i]!;
      const before = node.children[i - 1]!;
      if (call.type !== 'element' || before.type !== 'text' || !isCall(call)) continue;
      const word = /\S+$/.exec(before.value)?.[0];
      if (!word) continue;
      before.value = before.value.slice(0, -word.length);
      node.children[i] = h('span', {className: ['note-call-word']}, [{type: 'text', value: word}, call]);
    }
  });
}

const isCall = (node: Element): boolean => hasClass(node, 'noteref') || (node.tagName === 'sup' && node.children.some((c) => c.type === 'element' && hasClass(c, 'noteref')));
