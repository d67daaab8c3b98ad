/**
 * Pandoc/Quarto-style attribute blocks: `{#id .class key="value"}`.
 * Parsed from the end of headings, after a lone image (figures), after a table
 * (`: Caption {#tbl-x}`), and from code and math fence meta.
 */
export interface Attributes {
  id?: string;
  classes: string[];
  values: Record<string, string>;
}

const ATTRIBUTE_BLOCK = /\s*\{([^{}]*)\}\s*$/;
const TOKEN = /#([\w:.-]+)|\.([\w-]+)|([\w-]+)=(?:"([^"]*)"|'([^']*)'|(\S+))|([\w-]+)/g;

/** Parses the inside of `{…}`. Returns undefined when it is not an attribute block. */
export function parseAttributes(source: string): Attributes | undefined {
  const attributes: Attributes = {classes: [], values: {}};
  let rest = source;
  for (const match of source.matchAll(TOKEN)) {
    rest = rest.replace(match[0], '');
    if (match[1]) attributes.id = match[1];
    else if (match[2]) attributes.classes.push(match[2]);
    else if (match[3]) attributes.values[match[3]] = match[4] ?? match[5] ?? match[6] ?? '';
    else if (match[7]) attributes.values[match[7]] = '';
  }
  return rest.trim() === '' ? attributes : undefined;
}

/** Splits a trailing `{…}` off a string: `["Title", attrs]`. */
export function splitTrailingAttributes(text: string): [string, Attributes | undefined] {
  const match = ATTRIBUTE_BLOCK.exec(text);
  if (!match) return [text, undefined];
  const attributes = parseAttributes(match[1]!);
  if (!attributes) return [text, undefined];
  return [text.slice(0, match.index), attributes];
}
