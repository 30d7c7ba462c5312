import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, type CfnResource } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

const outdirs: string[] = [];

/**
 * A fresh App that writes into its own temp folder and bundles nothing
 * (`aws:cdk:bundling-stacks: []`) unless `bundle` is set. Call {@link removeTestOutdirs} in `afterEach`.
 */
export function testApp(context: Record<string, unknown> = {}, { bundle = false } = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-cdk-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context } });
}

/**
 * The feature flags of the repository's `cdk.json` (its `@aws-cdk/…` context keys): what
 * `cdk synth` and `cdk deploy` run with. Pass them to {@link testApp} to test the deployed
 * behaviour.
 */
export function cdkJsonFeatureFlags(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return Object.fromEntries(Object.entries(cdkJson.context).filter(([key]) => key.startsWith('@aws-cdk')));
}

/** Removes the folders of every {@link testApp} made so far. */
export function removeTestOutdirs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The logical id of a construct's CloudFormation resource (`fn` → its `AWS::Lambda::Function`). */
export function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild as CfnResource;
  return Stack.of(construct).getLogicalId(resource);
}

/**
 * Turns a synthesized string value (a literal or an `Fn::Join`) into plain text, each
 * `{Ref: X}` written as `<Ref:X>`, so that JSON built from tokens can be parsed.
 */
export function joinedText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`not a string or Fn::Join: ${JSON.stringify(value)}`);
  const [separator, parts] = join;
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref) return `<Ref:${ref}>`;
      return JSON.stringify(part);
    })
    .join(separator);
}

/** The parsed `GATEPASS_CONFIG` of the function with logical id `functionId`. */
export function gatepassConfigOf(template: Template, functionId: string): Record<string, unknown> {
  const fn = template.toJSON().Resources[functionId] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return JSON.parse(joinedText(fn.Properties.Environment.Variables.GATEPASS_CONFIG)) as Record<string, unknown>;
}

/** Every action that the `AWS::IAM::Policy` resources attached to role `roleId` allow, with their resources. */
export function roleStatements(template: Template, roleId: string): { actions: string[]; resources: unknown[] }[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
    .map((statement) => ({
      actions: ([] as string[]).concat(statement.Action),
      resources: ([] as unknown[]).concat(statement.Resource),
    }));
}

/**
 * Per-test timeout of the CDK tests: the first synth of a file loads much of aws-cdk-lib
 * (tens of seconds on a busy 2-core CI machine), above vitest's default for the project.
 */
export const CDK_TEST_TIMEOUT = 120_000;
