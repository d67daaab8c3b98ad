/** Small facts about HTML syntax trees that several stages ask. */
import type {Element} from 'hast';

/** The element's classes, however the tree holds them (a list, or a space-separated string). */
export function classesOf(node: Element): string[] {
  const value = node.properties?.className;
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? String(value).split(/\s+/) : [];
}

export function hasClass(node: Element, name: string): boolean {
  return classesOf(node).includes(name);
}
