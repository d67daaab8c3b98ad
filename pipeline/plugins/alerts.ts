/**
 * GitHub's alerts, which mdBook (0.5) renders too: a block quote whose first line is `[!NOTE]`,
 * `[!TIP]`, `[!IMPORTANT]`, `[!WARNING]` or `[!CAUTION]` becomes a titled note
 * (`<div class="admonition admonition-note" role="note">` with a `<p class="admonition-title">`)
 * instead of a quotation that prints the marker.
 */
import type {Root, Blockquote, Paragraph, Text} from 'mdast';
import {visit} from 'unist-util-visit';

const KINDS: Record<string, string> = {NOTE: 'Note', TIP: 'Tip', IMPORTANT: 'Important', WARNING: 'Warning', CAUTION: 'Caution'};

export function remarkAlerts() {
  return (tree: Root) => {
    visit(tree, 'blockquote', (node: Blockquote) => {
      const first = node.children[0];
      if (first?.type !== 'paragraph') return;
      const text = first.children[0];
      if (text?.type !== 'text') return;
      const match = /^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*(?:\r?\n|$)/i.exec(text.value);
      if (!match) return;
      const kind = match[1]!.toUpperCase();
      const title = KINDS[kind]!;
      text.value = text.value.slice(match[0].length);
      if (text.value === '') first.children.shift();
      // A line break right after the marker (`[!NOTE]  ` + newline) leaves a `break` first.
      if (first.children[0]?.type === 'break') first.children.shift();
      if (first.children.length === 0) node.children.shift();
      const heading: Paragraph = {
        type: 'paragraph', children: [{type: 'text', value: title} as Text],
        data: {hProperties: {className: ['admonition-title']}},
      };
      node.children.unshift(heading);
      node.data = {...node.data, hName: 'div', hProperties: {className: ['admonition', `admonition-${kind.toLowerCase()}`], role: 'note', ariaLabel: title}};
    });
  };
}
