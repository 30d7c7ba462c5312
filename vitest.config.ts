import { configDefaults, defineConfig } from 'vitest/config';

/** What every test process gets: a quiet SDK, a Region and dummy credentials (nothing reaches AWS). */
export const TEST_ENV = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  // No metric line per authorization in the test output; the metric tests switch them on.
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/**
 * Loads the RE2 engine that URL patterns need before each test file, as the admin handler and
 * the authorizer's pipeline do before they touch patterns (the engine is imported lazily).
 */
export const SETUP_FILES = ['test/setup/url-pattern-engine.ts'];

/** One DynamoDB Local for a project's whole run (needs Java); each test file makes its own table. */
export const DYNAMODB_LOCAL = ['test/setup/dynamodb-global.ts'];

/**
 * `npm test` runs every project; `npm run test:unit` (= `--project unit`) runs the unit
 * tests alone, without Java, in seconds. Only the `integration` project starts DynamoDB
 * Local. The reliability suite (fault injection, model check, soak) runs on its own:
 * `npm run test:reliability` (vitest.reliability.config.ts).
 */
export default defineConfig({
  test: {
    env: TEST_ENV,
    setupFiles: SETUP_FILES,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'examples/**/*.test.ts'] },
      },
      {
        extends: true,
        // CDK assertions on synthesized templates; the real `cdk synth` runs its bundle on DynamoDB Local (below).
        test: { name: 'cdk', include: ['test/cdk/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/cdk/synth.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/cdk/synth.test.ts'],
          globalSetup: DYNAMODB_LOCAL,
        },
      },
      {
        extends: true,
        // `npm pack`, installed into a CDK app outside the repository (test/package/).
        test: { name: 'package', include: ['test/package/**/*.test.ts'] },
      },
    ],
  },
});
