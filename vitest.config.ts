import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites start real servers on fixed binaries; two cores are plenty busy with two files at once.
    maxWorkers: 2,
  },
});
