import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['concierge/**/*.test.ts', 'test/**/*.test.ts'],
    // Real daemons and VMs: generous per-test limits, and files in sequence so they do not fight
    // over the one containerd/dockerd pair the test command started.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
