declare module '@citation-js/core' {
  export class Cite {
    constructor(data: unknown);
    data: {id: string}[];
    format(kind: 'bibliography' | 'citation', options?: Record<string, unknown>): string;
  }
  export const plugins: {config: {get(name: string): unknown}; input: {util: {clean(data: unknown[]): unknown[]}}};
}
declare module '@citation-js/plugin-bibtex';
declare module '@citation-js/plugin-csl';
declare module 'hyphen/patterns/en-us';
