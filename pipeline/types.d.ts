// citation-js is loaded with require() when first needed (pipeline/stages/citeproc.ts).
declare module '@citation-js/core' {
  export class Cite {
    constructor(data: unknown);
    data: {id: string}[];
  }
  export const plugins: {config: {get(name: string): unknown}; input: {util: {clean(data: unknown[]): {id: string}[]}}};
}
declare module '@citation-js/plugin-bibtex';
declare module '@citation-js/plugin-csl';
declare module 'hyphen/patterns/en-us';
