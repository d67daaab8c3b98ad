/**
 * A figure that cannot go into the book (a missing file, an SVG that runs scripts, an image from
 * outside the manuscript) does not lose the whole book: its error stays an error at its line, and
 * `build` still writes the book, with a plain-text placeholder where the image was, and exits 1.
 * Nothing of the refused image reaches an output: the placeholder says only the alternative text.
 */
import type {Element} from 'hast';
import type {VFile} from 'vfile';
import type {VFileMessage} from 'vfile-message';

/** The note on every error that a placeholder stands in for (kept by the build cache with the message). */
export const PLACEHOLDER_NOTE = '`book build` writes the book with a placeholder for this image ("Figure not included") and exits 1 until it is fixed';

/** Turns the `<img>` into the placeholder and marks the message as one that does not stop the outputs. */
export function placeholderFor(node: Element, message: VFileMessage): void {
  const alt = typeof node.properties?.alt === 'string' ? node.properties.alt.trim() : '';
  node.tagName = 'span';
  node.properties = {className: ['figure-missing']};
  node.children = [{type: 'text', value: alt ? `[Figure not included: ${alt}]` : '[Figure not included]'}];
  message.note = PLACEHOLDER_NOTE;
}

/** True when an error stops the outputs: any error except those a placeholder stands in for. */
export function blocksOutputs(files: VFile[]): boolean {
  return files.some((file) => file.messages.some((message) => message.fatal === true && message.note !== PLACEHOLDER_NOTE));
}
