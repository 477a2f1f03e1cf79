import { defineConfig } from 'vitest/config';

// Test files run in separate processes, two at a time (this machine has 2 cores). Each file that
// needs etcd or namespaces creates its own, so files never share state.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/leak-check.ts'],
    reporters: ['default'],
  },
});
