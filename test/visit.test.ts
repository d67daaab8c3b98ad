/**
 * pipeline/plugins/visit.ts stands in for unist-util-visit in the pipeline's walks: on any tree,
 * with visitors that skip, stop, jump, insert and remove the way the plugins do, it must visit
 * the same nodes in the same order, with the same index and parent, and leave the same tree.
 */
import {describe, it, expect} from 'vitest';
import fc from 'fast-check';
import {visit as libraryVisit, SKIP, EXIT} from 'unist-util-visit';
import type {Node, Parent} from 'unist';
import {visit} from '../pipeline/util/visit.ts';

interface Tree extends Node {
  type: string;
  id: number;
  children?: Tree[];
}

const tree: fc.Arbitrary<Tree> = fc.letrec<{node: Tree}>((tie) => ({
  node: fc.record({
    type: fc.constantFrom('a', 'b', 'c'),
    id: fc.nat(1000),
    children: fc.option(fc.array(tie('node'), {maxLength: 4}), {nil: undefined, depthSize: 'small'}),
  }) as fc.Arbitrary<Tree>,
})).node;

/** What a visitor does at a node, decided by the node (so both walks decide alike). */
function visitor(log: string[], rule: number) {
  return (node: Tree, index: number | undefined, parent: Parent | undefined): unknown => {
    log.push(`${node.type}${node.id}@${index ?? '-'}<${parent ? (parent as Tree).id : '-'}`);
    const kind = (node.id + rule) % 9;
    const siblings = parent?.children as Tree[] | undefined;
    if (kind === 0) return SKIP;
    if (kind === 1 && node.id % 5 === 0) return EXIT;
    if (kind === 2 && siblings && index !== undefined) {
      // Insert a sibling after this node and step over it.
      siblings.splice(index + 1, 0, {type: 'c', id: 2000 + node.id});
      return [SKIP, index + 2];
    }
    if (kind === 3 && siblings && index !== undefined) {
      // Remove this node and go on at the one that took its place.
      siblings.splice(index, 1);
      return index;
    }
    if (kind === 4) node.children = [...(node.children ?? []), {type: 'b', id: 3000 + node.id}];
    return undefined;
  };
}

describe('the pipeline\'s visit', () => {
  it('should walk every tree as unist-util-visit does, with and without a type test', () => {
    fc.assert(fc.property(tree, fc.nat(8), fc.constantFrom(undefined, 'a', 'b'), (root, rule, type) => {
      const ours = structuredClone(root);
      const theirs = structuredClone(root);
      const oursLog: string[] = [];
      const theirsLog: string[] = [];
      const run = (fn: typeof visit, t: Tree, log: string[]) => {
        const v = visitor(log, rule) as unknown;
        if (type === undefined) fn(t, v as never);
        else fn(t, type, v as never);
      };
      run(visit, ours, oursLog);
      run(libraryVisit, theirs, theirsLog);
      expect(oursLog).toEqual(theirsLog);
      expect(ours).toEqual(theirs);
    }), {numRuns: 500});
  });

  it('should hand other forms (reverse order) to the library', () => {
    const root: Tree = {type: 'a', id: 0, children: [{type: 'b', id: 1}, {type: 'b', id: 2}]};
    const seen: number[] = [];
    visit(root, 'b', (node: Tree) => {
      seen.push(node.id);
    }, true);
    expect(seen).toEqual([2, 1]);
  });
});
