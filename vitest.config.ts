import { configDefaults, defineConfig } from 'vitest/config';

// `npm run test:chaos` (BOOT_IMAGE_SUITE=chaos) runs the reliability suite in test/chaos/, which
// `npm test` leaves out: it breaks the stack's shared processes and takes longer than the suite's budget.
const chaos = process.env.BOOT_IMAGE_SUITE === 'chaos';

export default defineConfig({
  test: {
    include: chaos ? ['test/chaos/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: chaos ? configDefaults.exclude : [...configDefaults.exclude, 'test/chaos/**'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests share one dev stack on a 2-core machine: run files one at a time.
    fileParallelism: false,
  },
});
