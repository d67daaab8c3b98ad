#!/usr/bin/env node
// The `book` command (package.json "bin", and what `npm run build|check|preview|clean` run):
// `npx book build|check|preview|clean`. Runs the CLI bundled by esbuild (pipeline/bundle.mjs),
// or, where no bundle can be written, the TypeScript as it is through tsx.
import {pathToFileURL} from 'node:url';
import {bundled} from './bundle.mjs';

const bundle = await bundled();
if (bundle) {
  // Stack traces of --debug point into the TypeScript sources.
  if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
  await import(pathToFileURL(bundle.cli).href);
} else {
  const {register} = await import('tsx/esm/api');
  register();
  await import('./cli.ts');
}
