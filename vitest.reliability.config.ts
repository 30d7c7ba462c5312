import { configDefaults, defineConfig } from 'vitest/config';
import { DYNAMODB_LOCAL, SETUP_FILES, TEST_ENV } from './vitest.config.ts';

/**
 * `npm run test:reliability`: fault injection, the model check, the soak and the security
 * checks (test/reliability/). One file at a time: they load the machine on purpose (a
 * DynamoDB Local killed under load, 10,000 authorizations), and would slow each other and
 * the rest of the suite down if run side by side. Same DynamoDB Local setup and environment
 * as the `integration` project of `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/reliability/.dbg/**'],
    globalSetup: DYNAMODB_LOCAL,
    env: TEST_ENV,
    setupFiles: SETUP_FILES,
    fileParallelism: false,
    // docs/RELIABILITY.md is written from each full run (test/reliability/report.ts).
    reporters: ['default', './test/reliability/report.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
