/** Types of pipeline/io/tree.mjs. */
export declare function filesUnder(dir: string): string[];
/** Types of pipeline/io/tree.mjs: the pipeline's files, relative to the project. */
export declare function pipelineFiles(pipelineDir: string): {rel: string; file: string}[];
