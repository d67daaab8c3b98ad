/** Types of pipeline/bundle.mjs (plain JavaScript: it runs before TypeScript can). */
export declare const BUNDLE_CACHE: string;
export declare function fingerprint(entries?: Record<string, string>, options?: {pipelineDir?: string}): string;
export declare function bundled(entries?: Record<string, string>, options?: {cacheDir?: string}): Promise<Record<string, string> | undefined>;
export declare function pruneBundles(keep: string, options?: {cacheDir?: string; recent?: number}): void;
