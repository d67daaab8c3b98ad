import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 600_000,
    // End-to-end tests start Chrome and Java; two at a time is what a 2-core machine takes.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
