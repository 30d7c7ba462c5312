import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:reliability`: fault injection, the model check, the soak and the security
 * checks (test/reliability/). One file at a time: they load the machine on purpose (a
 * DynamoDB Local killed under load, 10,000 authorizations), and would slow each other and
 * the rest of the suite down if run side by side. Same setup and environment as `npm test`.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/reliability/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/reliability/.dbg/**'],
    fileParallelism: false,
    testTimeout: 120_000,
  },
});
