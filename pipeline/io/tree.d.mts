/** Types of pipeline/io/tree.mjs. */
export declare function filesUnder(dir: string): string[];
