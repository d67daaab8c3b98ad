/**
 * Code blocks of an mdBook page as mdBook shows them: its playground and test attributes
 * (`rust,ignore`) dropped, languages without a highlighting grammar printed as plain text, and
 * hidden lines (`# ` in Rust, the `hidelines` prefixes of book.toml or of a block) left out.
 */
import type {Code} from 'mdast';
import {common, createLowlight} from 'lowlight';
import {visit} from '../../util/visit.ts';
import type {MdBookSettings} from './config.ts';
import type {PageEdits} from './edits.ts';

const highlighter = createLowlight(common);
/** What the Markdown stage prints as plain text (rehype-highlight's `plainText`). */
const PLAIN_LANGUAGES = new Set(['text', 'txt', 'plain', 'math']);
const MDBOOK_CODE_ATTRIBUTES = /^(ignore|should_panic|no_run|compile_fail|edition\d{4}|editable|noplayground|noplaypen|mdbook-runnable|hidelines=.*|test_harness|ignore-.*)$/;

export function editCode({page, source, tree, edits, removeLines, lineStarts, note}: PageEdits, settings: MdBookSettings): void {
  visit(tree, 'code', (node: Code) => {
    const start = node.position!.start.offset!;
    const line = source.slice(start, source.indexOf('\n', start) < 0 ? source.length : source.indexOf('\n', start));
    const fence = /^([ \t]*)(`{3,}|~{3,})([^\n]*)$/.exec(line);
    if (!fence) return; // indented code
    const info = fence[3]!;
    let prefix: string | undefined;
    let language = node.lang ?? '';
    if (info.trim() && !info.includes('{')) {
      const tokens = info.trim().split(/[\s,]+/).filter(Boolean);
      language = tokens[0] ?? '';
      const attributes = tokens.slice(1);
      const hidelines = attributes.find((a) => a.startsWith('hidelines='));
      if (hidelines) prefix = hidelines.slice('hidelines='.length);
      if (attributes.length > 0 && attributes.every((a) => MDBOOK_CODE_ATTRIBUTES.test(a)) && (highlighter.registered(language) || PLAIN_LANGUAGES.has(language))) {
        const infoStart = start + fence[1]!.length + fence[2]!.length;
        edits.push({start: infoStart, end: infoStart + info.length, text: language});
        note('code-attributes', 'info', start, `Code block attributes such as \`${attributes[0]}\` only matter to mdBook's playground and tests; they are left out`);
      }
    }
    if (language && !info.includes('{') && !highlighter.registered(language) && !PLAIN_LANGUAGES.has(language)) {
      // mdBook's highlight.js skips languages it has no grammar for; so do we, without a warning per block.
      const infoStart = start + fence[1]!.length + fence[2]!.length;
      edits.push({start: infoStart, end: infoStart + info.length, text: 'text'});
      note(`code-language:${language}`, 'info', start, `Code in \`${language}\` has no highlighting grammar here and is printed as plain text`);
    }
    prefix ??= settings.hidelines[language];
    const rust = language === 'rust';
    if (!rust && !prefix) return;
    const firstLine = source.slice(0, start).split('\n').length; // 1-based
    const endOffset = node.position!.end.offset!;
    const lastLine = source.slice(0, endOffset).split('\n').length;
    const indent = node.position!.start.column - 1;
    for (let n = firstLine + 1; n <= lastLine; n++) {
      const body = page.text.lines[n - 1]!.slice(indent);
      if (n === lastLine && /^[ \t>]*(`{3,}|~{3,})[ \t]*$/.test(body)) break;
      if (rust && !prefix) {
        const match = /^(\s*)#(.?)/.exec(body);
        if (!match) continue;
        if (match[2] === '#') {
          const at = lineStarts[n - 1]! + indent + match[1]!.length;
          edits.push({start: at, end: at + 1, text: ''});
        } else if (match[2] === '' || match[2] === ' ') removeLines.add(n - 1);
      } else if (prefix && body.trimStart().startsWith(prefix)) removeLines.add(n - 1);
    }
  });
}
