#!/usr/bin/env node
// The `book` command (package.json "bin"): registers tsx so that Node runs the TypeScript
// pipeline as it is, then hands over to the CLI. `npx book build|check|preview|clean`.
import {register} from 'tsx/esm/api';

register();
await import('./cli.ts');
