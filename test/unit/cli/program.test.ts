import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../bin/commands/program.ts';
import { TransportError, type AdminRequest, type AdminResponse, type AdminTransport } from '../../../bin/commands/transport.ts';

const KEY_ID = 'c'.repeat(64);
const SESSION = {
  keyId: KEY_ID,
  expires: 0,
  quotaMax: -1,
  rate: 0,
  per: 0,
  accessRights: {},
  applyPolicies: [],
  metaData: {},
  tags: [],
  isInactive: false,
  version: 1,
};

/** Runs the CLI in-process against a fake admin API that answers from `answer` and records every request. */
async function run(args: string[], answer: (request: AdminRequest) => AdminResponse | Error = () => ({ status: 200, body: SESSION })) {
  const requests: AdminRequest[] = [];
  const targets: Array<{ adminUrl?: string; function?: string }> = [];
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'gatepass', ...args], {
    out: (text) => (stdout += text),
    err: (text) => (stderr += text),
    env: {},
    transport: (options): AdminTransport => {
      targets.push({ adminUrl: options.adminUrl, function: options.function });
      return {
        target: 'fake',
        send: async (request) => {
          requests.push(request);
          const response = answer(request);
          if (response instanceof Error) throw response;
          return response;
        },
      };
    },
  });
  return { code, stdout, stderr, requests, targets };
}

describe('gatepass keys', () => {
  it('maps create options to session fields', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { code, requests } = await run(
      [
        'keys',
        'create',
        '--alias',
        'ci',
        '--quota-max',
        '100',
        '--quota-renewal-rate',
        '1d',
        '--rate',
        '5',
        '--per',
        '1m',
        '--expires-in',
        '30d',
        '--tag',
        'a',
        '--tag',
        'b',
        '--meta',
        'plan=gold',
        '--meta',
        'team=x',
        '--policy',
        'p1',
        '--policy',
        'p2',
        '--access-rights-json',
        '{"api1":{"versions":["prod"]}}',
        '--inactive',
        '--key',
        'my-imported-key-0001',
        '--json',
      ],
      () => ({ status: 201, body: { key: 'k', keyId: KEY_ID, session: SESSION } }),
    );

    expect(code).toBe(0);
    expect(requests).toHaveLength(1);
    const { method, path: route, body } = requests[0]!;
    expect([method, route]).toEqual(['POST', '/keys']);
    expect(body).toMatchObject({
      alias: 'ci',
      quotaMax: 100,
      quotaRenewalRate: 86_400,
      rate: 5,
      per: 60,
      tags: ['a', 'b'],
      metaData: { plan: 'gold', team: 'x' },
      applyPolicies: ['p1', 'p2'],
      accessRights: { api1: { versions: ['prod'] } },
      isInactive: true,
      key: 'my-imported-key-0001',
    });
    const expires = (body as { expires: number }).expires;
    expect(expires).toBeGreaterThanOrEqual(before + 2_592_000);
    expect(expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 2_592_000);
  });

  it('sends only the fields given on update (PATCH), null to remove the alias, and If-Match', async () => {
    const { requests } = await run(['keys', 'update', KEY_ID, '--no-alias', '--active', '--expires-at', 'never', '--if-match', '4']);

    expect(requests[0]).toMatchObject({
      method: 'PATCH',
      path: `/keys/${KEY_ID}`,
      body: { alias: null, isInactive: false, expires: 0 },
      headers: { 'If-Match': '4' },
    });
    expect(Object.keys(requests[0]!.body as object).sort()).toEqual(['alias', 'expires', 'isInactive']);
  });

  it('replaces with PUT on update --replace, laying options over --body', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-cli-unit-'));
    const file = path.join(folder, 'body.json');
    writeFileSync(file, JSON.stringify({ alias: 'from-file', quotaMax: 3 }));

    const { requests } = await run(['keys', 'update', KEY_ID, '--replace', '--body', file, '--quota-max', 'unlimited']);

    expect(requests[0]).toMatchObject({ method: 'PUT', body: { alias: 'from-file', quotaMax: -1 } });
  });

  it('follows cursors with list --all and prints every row', async () => {
    const pages: Record<string, { items: object[]; cursor: string | null }> = {
      start: { items: [{ ...SESSION, keyId: 'a'.repeat(64) }], cursor: 'p2' },
      p2: { items: [{ ...SESSION, keyId: 'b'.repeat(64) }], cursor: null },
    };

    const { code, stdout, requests } = await run(['keys', 'list', '--all', '--alias', 'ci', '--limit', '1'], (request) => ({
      status: 200,
      body: pages[request.query?.cursor ?? 'start'],
    }));

    expect(code).toBe(0);
    expect(requests.map((r) => r.query)).toEqual([
      { alias: 'ci', limit: '1', cursor: undefined },
      { alias: 'ci', limit: '1', cursor: 'p2' },
    ]);
    expect(stdout.trim().split('\n')).toHaveLength(3);
    expect(stdout).not.toContain('more:');
  });

  it('tells how to get the next page without --all', async () => {
    const { stdout } = await run(['keys', 'list'], () => ({ status: 200, body: { items: [SESSION], cursor: 'abc' } }));

    expect(stdout.trim().split('\n').at(-1)).toBe('more: gatepass keys list --cursor abc');
  });

  it('sends the request to explain, with local defaults for the API and stage', async () => {
    const { requests } = await run(
      ['keys', 'explain', KEY_ID, '--method', 'post', '--path', '/pets', '--at', '1800000000', '--json'],
      () => ({
        status: 200,
        body: { decision: 'allow', checks: [], effective: { limits: {}, accessRights: {} } },
      }),
    );

    expect(requests[0]).toMatchObject({
      method: 'GET',
      path: `/keys/${KEY_ID}/explain`,
      query: { apiId: 'local', stage: 'dev', method: 'post', path: '/pets', at: '1800000000' },
    });
  });

  it('posts a Tyk session with its content type and the raw key', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-cli-unit-'));
    const file = path.join(folder, 'tyk.json');
    writeFileSync(file, JSON.stringify({ quota_max: 5, org_id: 'x' }));

    const { requests, stdout } = await run(['keys', 'import-tyk', file, '--key', 'tyk-key-00000000001'], () => ({
      status: 201,
      body: { key: 'tyk-key-00000000001', keyId: KEY_ID, session: SESSION, ignoredFields: ['org_id'] },
    }));

    expect(requests[0]).toMatchObject({
      method: 'POST',
      path: '/keys',
      contentType: 'application/vnd.tyk.session+json',
      body: { quota_max: 5, org_id: 'x', key: 'tyk-key-00000000001' },
    });
    expect(stdout).toContain('ignored Tyk fields: org_id');
  });
});

describe('gatepass policies', () => {
  it('puts a policy from options, create-only, with If-None-Match', async () => {
    const { requests } = await run(
      ['policies', 'put', 'gold', '--name', 'Gold', '--rate', '10', '--per', '1s', '--key-expires-in', 'never', '--create-only'],
      () => ({
        status: 200,
        body: { id: 'gold', version: 1 },
      }),
    );

    expect(requests[0]).toMatchObject({
      method: 'PUT',
      path: '/policies/gold',
      body: { name: 'Gold', rate: 10, per: 1, keyExpiresIn: 0 },
      headers: { 'If-None-Match': '*' },
    });
  });

  it('refuses field options together with --tyk', async () => {
    const { code, stderr, requests } = await run(['policies', 'put', 'gold', '--tyk', 'x.json', '--rate', '5']);

    expect(code).toBe(2);
    expect(stderr).toContain('--tyk takes the whole policy');
    expect(requests).toHaveLength(0);
  });
});

describe('exit codes and transports', () => {
  it('exits 1 with the code, message and each bad field on stderr when the API answers an error', async () => {
    const { code, stdout, stderr } = await run(['keys', 'create'], () => ({
      status: 400,
      body: {
        error: { code: 'invalid_fields', message: 'invalid fields: per', details: [{ field: 'per', message: 'must be greater than 0' }] },
      },
    }));

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('gatepass: 400 invalid_fields: invalid fields: per\n  per: must be greater than 0\n');
  });

  it('exits 1 when the admin API cannot be reached', async () => {
    const { code, stderr } = await run(['keys', 'get', KEY_ID], () => new TransportError('cannot reach the admin API at x: ECONNREFUSED'));

    expect(code).toBe(1);
    expect(stderr).toBe('gatepass: cannot reach the admin API at x: ECONNREFUSED\n');
  });

  it.each([
    [['keys', 'get']],
    [['keys', 'get', 'XYZ']],
    [['keys', 'create', '--rate', '-1']],
    [['keys', 'create', '--expires-in', '1d', '--expires-at', 'never']],
    [['keys', 'create', '--inactive', '--active']],
    [['keys', 'create', '--admin-url', 'ftp://x']],
    [['keys', 'list', '--bogus']],
    [['policies', 'put', 'bad id!']],
    [['nothing']],
  ])('exits 2 without a request for %j', async (args) => {
    const { code, requests, stderr } = await run(args);

    expect(code).toBe(2);
    expect(requests).toHaveLength(0);
    expect(stderr).toMatch(/error|gatepass:/);
  });

  it('exits 0 for --help', async () => {
    const { code, stdout } = await run(['keys', 'create', '--help']);

    expect(code).toBe(0);
    expect(stdout).toContain('--expires-in <duration>');
  });

  it('passes --admin-url or --function to the transport', async () => {
    const http = await run(['keys', 'get', KEY_ID, '--admin-url', 'http://admin.example:8080']);
    const lambda = await run(['keys', 'get', KEY_ID, '--function', 'gatepass-admin']);

    expect(http.targets).toEqual([{ adminUrl: 'http://admin.example:8080', function: undefined }]);
    expect(lambda.targets).toEqual([{ adminUrl: undefined, function: 'gatepass-admin' }]);
  });
});
