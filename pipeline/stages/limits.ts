/**
 * Limits on what one Markdown document may ask of the parser. micromark and the tree tools
 * after it are fast on books but slow down (or run out of stack) on pathological nesting:
 * thousands of nested lists, block quotes, emphasis, brackets or directives. A linear scan
 * before parsing finds those and reports them at their line; a depth check on the trees
 * catches whatever the scan does not (raw HTML nests too). The limits are far beyond what a
 * book needs.
 */
import type {Node, Parent, Point} from 'unist';

export const LIMITS = {
  /** Bytes of one Markdown document (UTF-8): about 150 000 words, ten long chapters. */
  documentBytes: 1024 * 1024,
  /** Levels of lists and quotes, of `:::` blocks, of open `[` and of open emphasis. */
  nesting: 100,
  /**
   * Levels of the document's tree after parsing (a list counts two: list and item). The
   * stages after parsing, Chrome and EPUB readers handle this depth; raw HTML is only
   * measured here.
   */
  treeDepth: 250,
  /** Columns of indentation before a line's text (nested lists indent). */
  indentColumns: 400,
  /** Backticks in one run (a code span needs as many as its longest run inside, plus one). */
  backtickRun: 32,
  /** Emphasis markers and brackets in one paragraph (micromark matches them pairwise). */
  inlineTokens: 5_000,
  /** Sum over paragraphs of the square of that number: a bound on the matching work. */
  inlineWork: 50_000_000,
  /** List item and block quote markers and `:::` blocks in one document (each costs the parser ~0.1 ms); a table row counts four. */
  containerMarkers: 50_000,
  /** Markers plus levels of indentation (half the columns) summed over all lines. */
  containerWork: 250_000,
} as const;

/** Limits on the images an SVG carries inside it (`data:` URLs), far beyond what a drawing needs. */
export const SVG_LIMITS = {
  /** Bytes of one embedded image, decoded (a 4000 × 4000 photo as JPEG is about 6 MB). */
  embeddedBytes: 16 * 1024 * 1024,
  /** Bytes of all the images one SVG carries, decoded. */
  embeddedTotalBytes: 64 * 1024 * 1024,
  /** Pixels of one embedded raster image. */
  embeddedPixels: 40_000_000,
  /** SVGs inside SVGs (`data:image/svg+xml`), counting the outermost file as 0. */
  nestedSvgDepth: 3,
} as const;

export interface LimitProblem {
  message: string;
  place: Point;
}

const CONTAINER = /^[ \t]{0,3}(?:>|([-+*])(?=[ \t]|$)|(\d{1,9})[.)](?=[ \t]|$))[ \t]?/;
const FENCE = /^[ \t]{0,3}(`{3,}|~{3,})/;
const TABLE_DELIMITER_ROW = /^\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

/** Counters of one inline context (a paragraph, heading or table row). */
interface Inline {
  /** Emphasis delimiter runs (`*`, `_`, `~`) and brackets: the parser compares them pairwise. */
  tokens: number;
  /** `[` not yet closed. */
  brackets: number;
  /** Emphasis openers not yet closed. */
  emphasis: number;
}

/**
 * One pass over the text: the first thing that exceeds a limit, or undefined. Line and column
 * are 1-based.
 */
export function checkMarkdownLimits(text: string): LimitProblem | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.documentBytes) {
    return {
      message: `Document is ${megabytes(bytes)}; one Markdown file may be at most ${megabytes(LIMITS.documentBytes)}: split it into chapters`,
      place: {line: 1, column: 1},
    };
  }
  const lines = text.split(/\r\n|\r|\n/);
  let fence: string | undefined;
  let directives = 0;
  let inline: Inline = {tokens: 0, brackets: 0, emphasis: 0};
  /** Sum over inline contexts of tokens²: what the parser's pairwise matching costs. */
  let work = 0;
  let contextStart = 1;
  let blockLines: string[] = [];
  let table = false;
  /** Link and footnote definitions are parsed one by one, as long as the block holds only them. */
  let definitionsOnly = true;
  let markers = 0;
  let containerWork = 0;
  const endContext = (nextLine: number) => {
    work += inline.tokens * inline.tokens;
    inline = {tokens: 0, brackets: 0, emphasis: 0};
    contextStart = nextLine;
  };
  const endBlock = (nextLine: number) => {
    endContext(nextLine);
    blockLines = [];
    table = false;
    definitionsOnly = true;
  };
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const lineNo = index + 1;
    // Container markers at the start of the line: `>`, `-`, `*`, `+`, `1.`.
    let rest = line;
    let containers = 0;
    let listItem = false;
    let tooDeepAt = 0;
    for (let match = CONTAINER.exec(rest); match && match[0].length > 0; match = CONTAINER.exec(rest)) {
      containers++;
      // A bullet item, or an ordered one numbered 1, always starts a new paragraph.
      if (match[1] || match[2] === '1') listItem = true;
      rest = rest.slice(match[0].length);
      if (containers > LIMITS.nesting && !tooDeepAt) tooDeepAt = line.length - rest.length;
      // Far beyond any limit: stop looking (the line is refused below unless it is code).
      if (containers > 2 * LIMITS.nesting) break;
    }
    const fenceMatch = FENCE.exec(rest);
    if (fence !== undefined) {
      // Inside fenced code nothing nests; only the closing fence matters.
      if (fenceMatch && fenceMatch[1]![0] === fence[0] && fenceMatch[1]!.length >= fence.length && rest.trim() === fenceMatch[1]) fence = undefined;
      continue;
    }
    if (tooDeepAt) {
      return {message: `Lists or block quotes nest more than ${LIMITS.nesting} levels deep`, place: {line: lineNo, column: tooDeepAt}};
    }
    markers += containers;
    if (markers > LIMITS.containerMarkers) {
      return {message: `Document has more than ${LIMITS.containerMarkers} list items and block quote lines; split it into chapters`, place: {line: lineNo, column: 1}};
    }
    if (fenceMatch) {
      fence = fenceMatch[1]!;
      endBlock(lineNo + 1);
      continue;
    }
    const indent = indentation(rest);
    if (indent > LIMITS.indentColumns) {
      return {message: `Line is indented ${indent} columns; more than ${LIMITS.indentColumns} means lists nested too deeply`, place: {line: lineNo, column: 1}};
    }
    containerWork += containers + Math.floor(indent / 2) + directives;
    if (containerWork > LIMITS.containerWork) {
      return {message: 'Document has too many nested list items and block quotes to parse in reasonable time; split it into chapters', place: {line: lineNo, column: 1}};
    }
    const body = rest.trimStart();
    if (body === '') {
      endBlock(lineNo + 1);
      continue;
    }
    if (/^:{3,}/.test(body)) {
      if (/^:{3,}[ \t]*[A-Za-z]/.test(body)) {
        directives++;
        markers++;
        if (directives > LIMITS.nesting) {
          return {message: `\`:::\` blocks nest more than ${LIMITS.nesting} levels deep (is a closing \`:::\` missing?)`, place: {line: lineNo, column: 1}};
        }
      } else if (/^:{3,}[ \t]*$/.test(body)) {
        directives = Math.max(0, directives - 1);
      }
      endBlock(lineNo + 1);
      continue;
    }
    // Headings, list items and table rows are inline contexts of their own.
    const heading = /^#{1,6}(?:[ \t]|$)/.test(body);
    if (listItem || heading) endBlock(lineNo);
    const definition = definitionsOnly && /^\[[^\]]{1,999}\]:/.test(body);
    if (definition) endContext(lineNo);
    else definitionsOnly = false;
    blockLines.push(body);
    if (blockLines.length === 2 && blockLines[0]!.includes('|') && TABLE_DELIMITER_ROW.test(body)) table = true;
    if (table) {
      endContext(lineNo);
      // A table row costs the parser about four list items.
      markers += 4;
      if (markers > LIMITS.containerMarkers) {
        return {message: `Document has more list items, block quote lines and table rows than the parser handles quickly (a budget of ${LIMITS.containerMarkers} list items, a table row counting four); split it into chapters`, place: {line: lineNo, column: 1}};
      }
    }
    const column0 = line.length - body.length;
    const problem = scanInline(body, lineNo, column0, inline);
    if (problem) return problem;
    if (inline.tokens > LIMITS.inlineTokens) {
      return {
        message: `Paragraph has more than ${LIMITS.inlineTokens} emphasis markers and brackets; split it (the parser slows down with the square of their number)`,
        place: {line: contextStart, column: 1},
      };
    }
    if (work + inline.tokens * inline.tokens > LIMITS.inlineWork) {
      return {
        message: 'Document has too many emphasis markers and brackets in long paragraphs to parse in reasonable time; split the paragraphs or the document',
        place: {line: contextStart, column: 1},
      };
    }
    if (heading || table || definition) endContext(lineNo + 1);
  }
  return undefined;
}

/** Counts tokens, unclosed `[` and emphasis openers of one line into `inline`; checks backtick runs. */
function scanInline(body: string, line: number, column0: number, inline: Inline): LimitProblem | undefined {
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      inline.tokens++;
      if (++inline.brackets > LIMITS.nesting) {
        return {message: `More than ${LIMITS.nesting} \`[\` are open at once (links or images nested too deeply)`, place: {line, column: column0 + i + 1}};
      }
    } else if (c === ']') {
      inline.tokens++;
      inline.brackets = Math.max(0, inline.brackets - 1);
    } else if (c === '`') {
      let end = i;
      while (body[end] === '`') end++;
      const run = end - i;
      if (run > LIMITS.backtickRun) {
        return {message: `A run of ${run} backticks; at most ${LIMITS.backtickRun} can open or close code`, place: {line, column: column0 + i + 1}};
      }
      // Skip a code span closed on the same line: nothing inside it is parsed.
      const close = findRun(body, '`', run, end);
      i = (close === -1 ? end : close + run) - 1;
    } else if (c === '*' || c === '_' || c === '~') {
      let end = i;
      while (body[end] === c) end++;
      inline.tokens++;
      const before = i > 0 ? body[i - 1]! : ' ';
      const after = end < body.length ? body[end]! : ' ';
      const left = !isSpace(after) && (!isPunctuation(after) || isSpace(before) || isPunctuation(before));
      const right = !isSpace(before) && (!isPunctuation(before) || isSpace(after) || isPunctuation(after));
      if (left && !right) {
        if (++inline.emphasis > LIMITS.nesting) {
          return {message: `More than ${LIMITS.nesting} emphasis markers are open at once (emphasis nested too deeply)`, place: {line, column: column0 + i + 1}};
        }
      } else if (right && !left) {
        inline.emphasis = Math.max(0, inline.emphasis - 1);
      }
      i = end - 1;
    }
  }
  return undefined;
}

/** Index of the next run of exactly `length` `char`s at or after `from`, or -1. */
function findRun(text: string, char: string, length: number, from: number): number {
  for (let i = text.indexOf(char, from); i !== -1; i = text.indexOf(char, i)) {
    let end = i;
    while (text[end] === char) end++;
    if (end - i === length) return i;
    i = end;
  }
  return -1;
}

function isSpace(c: string): boolean {
  return /\s/.test(c);
}

function isPunctuation(c: string): boolean {
  return /[\p{P}\p{S}]/u.test(c);
}

function indentation(line: string): number {
  let columns = 0;
  for (const c of line) {
    if (c === ' ') columns++;
    else if (c === '\t') columns += 4 - (columns % 4);
    else break;
  }
  return columns;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The first node deeper than `limit` levels (the root is level 0), found without recursion;
 * undefined when the tree is shallow enough.
 */
export function tooDeep(tree: Node, limit: number = LIMITS.treeDepth): Node | undefined {
  const stack: [Node, number][] = [[tree, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return node;
    const children = (node as Parent).children;
    if (Array.isArray(children)) for (let i = children.length - 1; i >= 0; i--) stack.push([children[i]!, depth + 1]);
  }
  return undefined;
}
