/**
 * `{{#include}}` and the other helpers of mdBook's `links` preprocessor: `{{#include file}}`
 * (with `:5`, `:5:10`, `:5:`, `::10` and `:anchor` between `ANCHOR:`/`ANCHOR_END:` comments),
 * `{{#rustdoc_include}}`, `{{#playground}}`, `{{#doc_comment_include}}`, `\{{#…}}` escapes;
 * `{{#title …}}` only sets the browser tab title in mdBook and is dropped.
 */
import path from 'node:path';
import {joinExpanded, type MappedText, type Origin, type Piece} from '../origins.ts';
import type {Notes, SourceFiles} from './notes.ts';

const posix = path.posix;

const HELPER = /\\\{\{#.*\}\}|\{\{\s*#([a-zA-Z0-9_]+)\s+([^}]+)\}\}/g;
const ANCHOR_START = /ANCHOR:\s*([\w_-]+)/;
const ANCHOR_END = /ANCHOR_END:\s*([\w_-]+)/;
const MAX_DEPTH = 10;

type Selection = {kind: 'range'; start: number; end?: number} | {kind: 'anchor'; name: string};

/** mdBook's `:5`, `:5:10`, `:5:`, `::10`, `:anchor` (as its parse_range_or_anchor; `end` is exclusive, 0-based). */
export function parseSelection(spec: string | undefined): Selection {
  if (spec === undefined) return {kind: 'range', start: 0};
  const [first = '', second] = spec.split(':');
  let start: number | undefined;
  if (/^\d+$/.test(first)) start = Math.max(0, Number(first) - 1);
  else if (first !== '') return {kind: 'anchor', name: first};
  const end = second === undefined ? undefined : /^\d+$/.test(second) ? Number(second) : Number.NaN;
  if (start !== undefined) {
    if (end === undefined) return {kind: 'range', start, end: start + 1};
    return Number.isNaN(end) ? {kind: 'range', start} : {kind: 'range', start, end};
  }
  return end !== undefined && !Number.isNaN(end) ? {kind: 'range', start: 0, end} : {kind: 'range', start: 0};
}

/** The selected lines with their 1-based numbers in the file, as mdBook's take_lines/take_anchored_lines. */
export function selectLines(text: string, selection: Selection): {line: string; number: number}[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n').map((line, i) => ({line, number: i + 1}));
  if (selection.kind === 'range') return lines.slice(selection.start, selection.end);
  const out: {line: string; number: number}[] = [];
  let inside = false;
  for (const entry of lines) {
    if (inside) {
      const end = ANCHOR_END.exec(entry.line);
      if (end) {
        if (end[1] === selection.name) break;
      } else if (!ANCHOR_START.test(entry.line)) out.push(entry);
    } else if (ANCHOR_START.exec(entry.line)?.[1] === selection.name) inside = true;
  }
  return out;
}

/** `{{#rustdoc_include}}`: lines outside the selection are kept as hidden lines (`# `). */
function rustdocLines(text: string, selection: Selection): {line: string; number: number}[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n').map((line, i) => ({line, number: i + 1}));
  if (selection.kind === 'range') {
    return lines.map((entry, i) => (i >= selection.start && (selection.end === undefined || i < selection.end) ? entry : {...entry, line: `# ${entry.line}`}));
  }
  const out: {line: string; number: number}[] = [];
  let inside = false;
  for (const entry of lines) {
    const start = ANCHOR_START.exec(entry.line);
    const end = ANCHOR_END.exec(entry.line);
    if (inside) {
      if (end) {
        if (end[1] === selection.name) inside = false;
      } else if (!start) out.push(entry);
    } else if (start) {
      if (start[1] === selection.name) inside = true;
    } else if (!end) out.push({...entry, line: `# ${entry.line}`});
  }
  return out;
}

export interface ExpandContext {
  /** Reads a manuscript-relative file (confined to the manuscript); undefined with a reason when it cannot. */
  read: (rel: string) => Promise<{text: string} | {error: string}>;
  files: SourceFiles;
  notes: Notes;
  /** The chapter title set by `{{#title}}` (mdBook uses it for the browser tab only). */
  onTitle?: (title: string) => void;
}

/**
 * Expands mdBook's helpers in `text` (a file at `rel`, whose line i is `lineNumbers[i]` of that
 * file), recursively as mdBook does (paths relative to the file that holds the helper).
 */
export async function expandHelpers(text: string, rel: string, context: ExpandContext, lineNumbers?: number[], depth = 0): Promise<MappedText> {
  const pieces: Piece[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineIndex = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  };
  const originOf = (index: number): Origin => ({path: rel, line: lineNumbers?.[index] ?? index + 1});
  const slice = (start: number, end: number): Piece => {
    const first = lineIndex(start);
    const value = text.slice(start, end);
    const count = value.split('\n').length;
    return {text: value, origins: Array.from({length: count}, (_, i) => originOf(first + i))};
  };
  let last = 0;
  for (const match of text.matchAll(HELPER)) {
    const start = match.index!;
    const end = start + match[0].length;
    const place = {line: originOf(lineIndex(start)).line, column: start - lineStarts[lineIndex(start)]! + 1};
    const file = context.files.get(rel);
    if (match[0].startsWith('\\')) {
      pieces.push(slice(last, start), {text: match[0].slice(1), origins: [originOf(lineIndex(start))]});
      last = end;
      continue;
    }
    const type = match[1]!;
    const rest = match[2]!.trim();
    if (type === 'title') {
      context.onTitle?.(rest);
      context.notes.add('title', 'info', file, place,
        '`{{#title …}}` sets the browser tab title in mdBook; a book has none, so it is left out');
      pieces.push(slice(last, start));
      last = end;
      continue;
    }
    if (!['include', 'rustdoc_include', 'playground', 'playpen', 'doc_comment_include'].includes(type)) {
      context.notes.add('unknown-helper', 'info', file, place, `\`{{#${type} …}}\` is not an mdBook helper we know; it stays as written`);
      continue;
    }
    const [fileArg = '', ...props] = rest.split(/\s+/);
    const colon = fileArg.indexOf(':');
    const target = colon >= 0 ? fileArg.slice(0, colon) : fileArg;
    const selection = parseSelection(colon >= 0 ? fileArg.slice(colon + 1) : undefined);
    const targetRel = posix.normalize(posix.join(posix.dirname(rel), target));
    if (depth >= MAX_DEPTH) {
      file.message(`\`${match[0]}\` is nested more than ${MAX_DEPTH} includes deep; is a file including itself?`, {place, source: 'mdbook', ruleId: 'mdbook-include'}).fatal = false;
      pieces.push(slice(last, start));
      last = end;
      continue;
    }
    const read = await context.read(targetRel);
    if ('error' in read) {
      // As mdBook does: the helper stays in the text as written.
      file.message(`Cannot include \`${target}\`: ${read.error}`, {place, source: 'mdbook', ruleId: 'mdbook-include'}).fatal = false;
      continue;
    }
    let selected: {line: string; number: number}[];
    if (type === 'rustdoc_include') selected = rustdocLines(read.text, selection);
    else if (type === 'playground' || type === 'playpen') selected = selectLines(read.text, {kind: 'range', start: 0});
    else selected = selectLines(read.text, selection);
    if (type === 'doc_comment_include') selected = selected.map((entry) => ({...entry, line: entry.line.trim().replace(/^(\/\/\/)+/, '').trim()}));
    if (selection.kind === 'anchor' && selected.length === 0 && !new RegExp(`ANCHOR:\\s*${selection.name}\\b`).test(read.text)) {
      file.message(`\`${target}\` has no anchor \`${selection.name}\` (\`ANCHOR: ${selection.name}\` … \`ANCHOR_END: ${selection.name}\`)`, {
        place, source: 'mdbook', ruleId: 'mdbook-include',
      }).fatal = false;
    }
    pieces.push(slice(last, start));
    const inner = await expandHelpers(selected.map((s) => s.line).join('\n'), targetRel, context, selected.map((s) => s.number), depth + 1);
    const innerPiece: Piece = {text: inner.lines.join('\n'), origins: inner.origins};
    if (type === 'playground' || type === 'playpen') {
      const here = originOf(lineIndex(start));
      const body = innerPiece.text.endsWith('\n') || innerPiece.text === '' ? innerPiece : {text: `${innerPiece.text}\n`, origins: [...innerPiece.origins, here]};
      pieces.push({text: `\`\`\`rust${props.length ? `,${props.join(',')}` : ''}\n`, origins: [here, here]}, body, {text: '```\n', origins: [here, here]});
    } else {
      pieces.push(innerPiece);
    }
    last = end;
  }
  pieces.push(slice(last, text.length));
  const joined = joinExpanded(pieces);
  if (joined.origins[0]?.path === '') joined.origins[0] = {path: rel, line: 1};
  return joined;
}