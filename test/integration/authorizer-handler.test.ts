import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayAuthorizerResult, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN_PREFIX, httpApiEvent, LAMBDA_CONTEXT, restRequestEvent, restTokenEvent } from '../support/authorizer-events.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import type { AuthorizerResult } from '../../lambdas/authorizer/events.ts';
import { createAuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import { ConfigSchema, type ConfigInput } from '../../lambdas/core/model/config.ts';
import type { DecisionContext } from '../../lambdas/core/request/decision.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

/**
 * The authorizer handler, event in and answer out, on DynamoDB Local: each event shape API
 * Gateway sends and each answer it expects. Missing credentials and faults, which need no
 * DynamoDB, are in test/unit/authorizer/handler.test.ts.
 */
const STAGE_ARN = `${ARN_PREFIX}:api1/prod/*`;

/** Rights of the test keys: only GET /pets/<n> on API api1, stage prod. */
const PETS_ONLY = { api1: { versions: ['prod'], allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } };

function statementOf(result: AuthorizerResult): { Effect: string; Resource: unknown; Action: unknown } {
  const statements = (result as APIGatewayAuthorizerResult).policyDocument.Statement;
  expect(statements).toHaveLength(1);
  return statements[0] as unknown as { Effect: string; Resource: unknown; Action: unknown };
}

const contextOf = (result: AuthorizerResult) => (result as { context?: DecisionContext }).context;

describe('the authorizer handler on DynamoDB Local', () => {
  let table: TestTable;
  let keys: KeyService;
  let key: string;
  let keyId: string;
  const logger = new Logger({ serviceName: 'gatepass-authorizer-test', logLevel: 'SILENT' });

  function handlerWith(config: ConfigInput = {}) {
    return createAuthorizerHandler({ config: ConfigSchema.parse({ tableName: table.tableName, ...config }), client: table.doc, logger });
  }

  beforeAll(async () => {
    table = await createTestTable('authorizer-handler');
    keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 60 }));
    ({ key, keyId } = await keys.create({ alias: 'ci', accessRights: PETS_ONLY, metaData: { plan: 'gold' } }));
  });
  afterAll(() => table.drop());

  describe('REST API REQUEST authorizer', () => {
    it('allows with a policy on the API and stage, the key id as principal and the session in the context', async () => {
      const result = await handlerWith()(restRequestEvent({ Authorization: key }), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE_ARN });
      expect((result as APIGatewayAuthorizerResult).principalId).toBe(keyId);
      expect(contextOf(result)).toMatchObject({ keyId, alias: 'ci', meta_plan: 'gold' });
    });

    it('reads the key from a configured header whatever the case of its name', async () => {
      const result = await handlerWith({ apiKeyHeader: 'X-API-Key' })(restRequestEvent({ 'x-api-KEY': key }), LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Allow');
    });

    it('denies url_not_allowed, with the body fields in the context, for a path the rights do not allow', async () => {
      const event = restRequestEvent({ Authorization: key }, `${ARN_PREFIX}:api1/prod/GET/owners`);

      const result = await handlerWith()(event, LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Deny', Resource: STAGE_ARN });
      expect(contextOf(result)).toMatchObject({
        reason: 'url_not_allowed',
        gatepassDenial: '"error":"Access to this resource has been disallowed","reason":"url_not_allowed",',
      });
    });

    it('denies key_not_found for a key that has no session', async () => {
      const result = await handlerWith()(restRequestEvent({ Authorization: 'gp_thisKeyWasNeverCreated000000' }), LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Deny');
      expect(contextOf(result)).toMatchObject({ reason: 'key_not_found', message: 'Access to this API has been disallowed' });
    });

    it('refuses a key with URL rights when results are cached (a cached Allow would cover other routes)', async () => {
      const result = await handlerWith({ resultsCacheTtl: 300 })(restRequestEvent({ Authorization: key }), LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Deny', Resource: STAGE_ARN });
      expect(contextOf(result)).toMatchObject({ reason: 'url_rights_not_cacheable' });
    });

    it('allows a key without URL rights for the whole stage when results are cached', async () => {
      const open = await keys.create({ alias: 'open' });

      const result = await handlerWith({ resultsCacheTtl: 300 })(restRequestEvent({ Authorization: open.key }), LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Allow', Resource: STAGE_ARN });
    });
  });

  describe('REST API TOKEN authorizer', () => {
    it('allows a Bearer token, finding API, stage, method and path in the method ARN', async () => {
      const result = await handlerWith()(restTokenEvent(`Bearer ${key}`), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE_ARN });
    });

    it('checks the whole path after stage/METHOD: a colon cannot cut it short', async () => {
      const event = { ...restTokenEvent(`Bearer ${key}`), methodArn: `${ARN_PREFIX}:api1/prod/GET/pets/42:/admin/keys` };

      const result = await handlerWith()(event, LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Deny');
      expect(contextOf(result)).toMatchObject({ reason: 'url_not_allowed' });
    });
  });

  describe('ambiguous paths, for a key with URL rights', () => {
    /** A key whose rights allow every path under /pets/: only the path rule keeps it there. */
    let wide: string;
    beforeAll(async () => {
      ({ key: wide } = await keys.create({ accessRights: { api1: { allowedUrls: [{ url: '/pets/.*' }] } } }));
    });

    it.each(['/pets/42/../../admin', '/pets/42/..%2F..%2Fadmin', '/pets/42/..;/..;/admin', '/pets/%2e%2e/admin'])(
      'denies url_not_allowed for %s in the method ARN of a REQUEST and of a TOKEN event',
      async (path) => {
        const methodArn = `${ARN_PREFIX}:api1/prod/GET${path}`;

        const request = await handlerWith()(restRequestEvent({ Authorization: wide }, methodArn), LAMBDA_CONTEXT);
        const token = await handlerWith()({ ...restTokenEvent(`Bearer ${wide}`), methodArn }, LAMBDA_CONTEXT);

        expect(contextOf(request)).toMatchObject({ reason: 'url_not_allowed' });
        expect(contextOf(token)).toMatchObject({ reason: 'url_not_allowed' });
      },
    );

    it('allows the same key a plain path, and one with an encoded unreserved character', async () => {
      for (const path of ['/pets/42', '/pets/%7Eann']) {
        const result = await handlerWith()(restRequestEvent({ Authorization: wide }, `${ARN_PREFIX}:api1/prod/GET${path}`), LAMBDA_CONTEXT);
        expect(statementOf(result).Effect).toBe('Allow');
      }
    });

    it('denies url_not_allowed for an encoded slash in the raw path of an HTTP API event', async () => {
      const event = httpApiEvent({ authorization: wide });
      const result = await handlerWith({ httpApiResponse: 'simple' })(
        { ...event, rawPath: '/prod/pets/1%2F..%2F..%2Fadmin' },
        LAMBDA_CONTEXT,
      );

      expect(result).toMatchObject({ isAuthorized: false, context: { reason: 'url_not_allowed' } });
    });
  });

  describe('HTTP API payload 2.0', () => {
    it('answers isAuthorized true with the context for a simple response (stage stripped from the path)', async () => {
      const result = await handlerWith({ httpApiResponse: 'simple' })(httpApiEvent({ authorization: key }), LAMBDA_CONTEXT);

      const simple = result as APIGatewaySimpleAuthorizerWithContextResult<DecisionContext>;
      expect(simple.isAuthorized).toBe(true);
      expect(simple.context).toMatchObject({ keyId, meta_plan: 'gold' });
    });

    it('answers a policy on the API and stage for an IAM response', async () => {
      const result = await handlerWith({ httpApiResponse: 'iam' })(httpApiEvent({ authorization: key }), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE_ARN });
    });
  });
});
