import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterEach, describe, expect, it } from 'vitest';
import { gatepassStackPropsFromContext } from '../../lib/gatepass-app.ts';
import { GatepassStack } from '../../lib/gatepass-stack.ts';
import { CDK_TEST_TIMEOUT, removeTestOutdirs, testApp } from './test-app.ts';

/**
 * Every error and warning of cdk-nag's AwsSolutions pack that no acknowledgment covers, in
 * the app's stack built from `context` (as `bin/app.ts` builds it, less the synth-time
 * check, which would throw on errors and let warnings through).
 */
function unacknowledged(context: Record<string, unknown>, extend?: (stack: GatepassStack) => void): string[] {
  const app = testApp(context);
  const stack = new GatepassStack(app, 'Gatepass', gatepassStackPropsFromContext(app.node));
  extend?.(stack);
  Template.fromStack(stack); // prepares the stack (lazy values, deployments) as a synth would
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
}

describe('cdk-nag AwsSolutions checks of the app', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('finds no unacknowledged error or warning in the demo stack', () => {
    expect(unacknowledged({})).toEqual([]);
  });

  it('finds none with every option on: attached APIs, plugins, JWT, caching, tracing, reserved concurrency', () => {
    expect(
      unacknowledged({
        restApiIds: ['a1b2c3d4e5', 'f6g7h8i9j0'],
        plugins: ['examples/plugins/renew-on-expiry.ts', 'examples/plugins/ip-deny.ts'],
        jwt: { jwksUrl: 'https://issuer.example/.well-known/jwks.json', algorithms: ['RS256'] },
        resultsCacheTtl: 60,
        tracing: true,
        reservedConcurrency: 10,
      }),
    ).toEqual([]);
  });

  it('does find what is not acknowledged (the check can fail)', () => {
    const found = unacknowledged({}, (stack) => new s3.Bucket(stack, 'Plain'));

    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^error AwsSolutions-S10: Gatepass\/Plain/)]));
  });
});
