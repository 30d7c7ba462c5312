import * as z from 'zod';
import { JwtConfigSchema, describeIssues } from '../lambdas/core/model/config.ts';

/**
 * The context keys of the CDK app (`bin/app.ts`), from `cdk.json` or `-c key=value`, checked
 * by one zod schema. On the command line every value is a string: booleans are `true` or
 * `false`, numbers are digits, lists are comma-separated or JSON, objects are JSON.
 * docs/DEPLOY.md lists them with their defaults.
 */
export const AppContextSchema = z.strictObject({
  /** CloudFormation stack name. @default 'Gatepass' */
  stackName: text().optional(),
  /** Physical name of the session table. @default - generated */
  tableName: text().optional(),
  /** An existing session table to use instead of creating one (a restored table). @default - the stack creates it */
  existingTableName: text()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name')
    .optional(),
  /** What deleting the stack does to the table. @default 'retain' */
  tableRemovalPolicy: z.enum(['retain', 'snapshot', 'destroy'], { error: 'must be retain, snapshot or destroy' }).optional(),
  /** Deletion protection of the table. @default true */
  tableDeletionProtection: flag().optional(),
  /** Existing REST APIs to attach to; none = the demo API. @default [] */
  restApiIds: list(text().regex(/^[a-z0-9]{1,32}$/i, 'must be a REST API id (like a1b2c3d4e5)')).optional(),
  /** gatepass's gateway responses on the attached APIs. @default true */
  gatewayResponses: flag().optional(),
  /** Headers on those responses, as API Gateway mapping values. @default - none */
  gatewayResponseHeaders: json(z.record(z.string(), text())).optional(),
  /** The 401's `WWW-Authenticate` challenge. @default 'Bearer' */
  wwwAuthenticate: z.string({ error: 'must be a string' }).optional(),
  /** Other authorizers guard methods of the attached APIs. @default false */
  otherAuthorizers: flag().optional(),
  /** JWT verification (`GATEPASS_CONFIG.jwt`). @default - API keys only */
  jwt: json(JwtConfigSchema).optional(),
  /** Header that carries the API key. @default 'Authorization' */
  apiKeyHeader: text().optional(),
  /** Time a plugin hook may run, in ms. @default 1000 */
  hookTimeoutMs: count().optional(),
  /** Longest a policy is served from the authorizer's memory, in s (0 = read every time). @default 10 */
  policyCacheSeconds: count().optional(),
  /** How long an expired session is kept, in s. @default 2592000 */
  sessionRetentionSeconds: count().optional(),
  /** How the authorizer answers HTTP APIs. @default 'simple' */
  httpApiResponse: z.enum(['simple', 'iam'], { error: 'must be simple or iam' }).optional(),
  /** Plugin entries: paths (relative to the folder of cdk.json) or `{entry, name?}`. @default [] */
  plugins: list(
    z.union([text(), z.strictObject({ entry: text(), name: text().optional() })], {
      error: 'must be a path or {"entry": path, "name"?: name}',
    }),
  ).optional(),
  /** Authorizer result cache TTL, in s. @default 0 */
  resultsCacheTtl: count().optional(),
  /** X-Ray tracing of the authorizer. @default false */
  tracing: flag().optional(),
  /** Reserved concurrency of the authorizer. @default - none */
  reservedConcurrency: count().optional(),
  /** The usage aggregator (`gatepass keys usage`). @default true */
  usage: flag().optional(),
  /** Days a key's daily usage is kept. @default 35 */
  usageRetentionDays: count().optional(),
  /** The dashboard, the alarms and Contributor Insights. @default true */
  monitoring: flag().optional(),
  /** SNS topic every alarm notifies (ALARM and OK). @default - no action */
  alarmTopicArn: text()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be the ARN of a standard SNS topic')
    .optional(),
  /** p99 authorization latency (ms, over 5 minutes) above which the latency alarm fires. @default 500 */
  latencyAlarmThresholdMs: count().optional(),
});

export type AppContext = z.infer<typeof AppContextSchema>;

/** Every context key of the app. */
export const CONTEXT_KEYS = Object.keys(AppContextSchema.shape) as readonly (keyof AppContext)[];

/**
 * Context keys that belong to the CDK itself, never gatepass's: its own settings
 * (`aws:cdk:*`), feature flags (`@aws-cdk/*`, `@aws-cdk-containers/*`), the CLI's
 * (`cli-telemetry`, `acknowledged-issue-numbers`), and cached lookups (`<provider>:account=…`,
 * as `cdk.context.json` stores them).
 */
export function isCdkContextKey(key: string): boolean {
  return (
    key.startsWith('aws:cdk:') ||
    key.startsWith('@aws-cdk') ||
    key === 'cli-telemetry' ||
    key === 'acknowledged-issue-numbers' ||
    /^[a-z][a-z0-9-]*:account=/.test(key)
  );
}

/**
 * Reads the app's context: every key gatepass does not know fails (with the nearest known
 * key suggested), and every bad value fails naming its field, before anything is built.
 *
 * @example
 * readAppContext({ restApiIds: 'a1b2c3d4e5', tracing: 'true' }); // { restApiIds: ['a1b2c3d4e5'], tracing: true }
 * readAppContext({ restApiIdd: 'a1b2c3d4e5' }); // throws: unknown context key "restApiIdd" (did you mean "restApiIds"?)
 */
export function readAppContext(all: Readonly<Record<string, unknown>>): AppContext {
  const ours = Object.fromEntries(
    Object.entries(all).filter(([key, value]) => !isCdkContextKey(key) && value !== null && value !== '' && value !== undefined),
  );
  const unknown = Object.keys(ours).filter((key) => !(CONTEXT_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    const named = unknown.map((key) => {
      const near = nearest(key);
      return `"${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
    });
    throw new Error(
      `gatepass: unknown context key${unknown.length > 1 ? 's' : ''} ${named.join(', ')}; the keys are listed in docs/DEPLOY.md`,
    );
  }
  const result = AppContextSchema.safeParse(ours);
  if (!result.success) throw new Error(`gatepass: context is invalid: ${describeIssues(result.error)}`);
  return result.data;
}

/** A non-empty string. */
function text() {
  return z.string({ error: 'must be a string' }).min(1, 'must not be empty');
}

/** A boolean, or the string `true` / `false` of `-c`. */
function flag() {
  return z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: 'must be true or false' }));
}

/** A whole number of at least 0, or its digits as `-c` gives them. */
function count() {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: 'must be a whole number of at least 0' })
      .int('must be a whole number of at least 0')
      .min(0, 'must be a whole number of at least 0'),
  );
}

/** A JSON value, given as JSON in cdk.json or as a JSON string with `-c`. */
function json<T extends z.ZodType>(schema: T) {
  return z.preprocess((v, ctx) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      ctx.issues.push({ code: 'custom', message: 'must be valid JSON', input: v });
      return z.NEVER;
    }
  }, schema);
}

/** A list, or a `-c` string: a JSON array, or items separated by commas. */
function list<T extends z.ZodType>(item: T) {
  return z.preprocess(
    (v, ctx) => {
      if (typeof v !== 'string') return v;
      if (!v.trim().startsWith('[')) {
        return v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      }
      try {
        return JSON.parse(v);
      } catch {
        ctx.issues.push({ code: 'custom', message: 'must be valid JSON', input: v });
        return z.NEVER;
      }
    },
    z.array(item, { error: 'must be a list (JSON array or comma-separated)' }),
  );
}

/** The known key closest to a mistyped one (at most a third of its letters wrong), if any. */
function nearest(key: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const known of CONTEXT_KEYS) {
    const distance = editDistance(key.toLowerCase(), known.toLowerCase());
    if (distance <= Math.max(2, Math.floor(known.length / 3)) && (best === undefined || distance < best.distance))
      best = { key: known, distance };
  }
  return best?.key;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
