/**
 * unist-util-visit's `visit`, with its signature and types and, for the forms the pipeline uses
 * (no test or a node type, in document order), its behaviour, without its cost per node: the
 * library names a function after every node it enters (for its debugging output), copies the
 * list of ancestors, and looks up each node's index with `indexOf` in its parent's children.
 * On a book's trees that was most of the time of the walks, and much of the garbage. Any other
 * form (test functions or objects, reverse order, enter/exit visitors) goes to the library.
 *
 * The index given to the visitor is the position the walk is at in the parent's children, as
 * the library's is unless a visitor moves nodes without returning where to go on.
 */
import {visit as libraryVisit, CONTINUE, EXIT, SKIP} from 'unist-util-visit';
import type {Node, Parent} from 'unist';

export {CONTINUE, EXIT, SKIP};

type Result = readonly unknown[];
type Visitor = (node: Node, index: number | undefined, parent: Parent | undefined) => unknown;

const EMPTY: Result = [];

function toResult(value: unknown): Result {
  if (Array.isArray(value)) return value;
  if (typeof value === 'number') return [CONTINUE, value];
  return value === null || value === undefined ? EMPTY : [value];
}

function walk(tree: Node, type: string | undefined, visitor: Visitor): void {
  const step = (node: Node, index: number | undefined, parent: Parent | undefined): Result => {
    let result = EMPTY;
    if (type === undefined || node.type === type) {
      result = toResult(visitor(node, index, parent));
      if (result[0] === EXIT) return result;
    }
    const self = node as Parent;
    if (self.children && result[0] !== SKIP) {
      let offset = 0;
      while (offset > -1 && offset < self.children.length) {
        const sub = step(self.children[offset]!, offset, self);
        if (sub[0] === EXIT) return sub;
        offset = typeof sub[1] === 'number' ? sub[1] : offset + 1;
      }
    }
    return result;
  };
  step(tree, undefined, undefined);
}

export const visit = ((tree: Node, testOrVisitor: unknown, visitorOrReverse?: unknown, reverse?: unknown) => {
  const tested = typeof visitorOrReverse === 'function';
  const test = tested ? testOrVisitor : undefined;
  const visitor = tested ? visitorOrReverse : testOrVisitor;
  const backwards = tested ? reverse : visitorOrReverse;
  if (typeof visitor === 'function' && !backwards && (test === undefined || test === null || typeof test === 'string')) {
    walk(tree, (test ?? undefined) as string | undefined, visitor as Visitor);
    return;
  }
  (libraryVisit as (...args: unknown[]) => void)(tree, testOrVisitor, visitorOrReverse, reverse);
}) as typeof libraryVisit;
