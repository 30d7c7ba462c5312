import { describe, expect, it } from 'vitest';
import { devBanner } from '../../../local/banner.ts';
import type { DevServer } from '../../../local/dev.ts';

function dev(overrides: Partial<DevServer> = {}): DevServer {
  return {
    gatewayUrl: 'http://127.0.0.1:3000',
    adminUrl: 'http://127.0.0.1:3001',
    dynamodbEndpoint: 'http://127.0.0.1:8000',
    tableName: 'gatepass-sessions',
    seeded: undefined,
    stop: async () => undefined,
    ...overrides,
  };
}

describe('devBanner', () => {
  it('warns when DynamoDB Local could not be kept to this machine, and says why', () => {
    const text = devBanner(dev({ dynamodbExposed: 'unshare: spawnSync unshare ENOENT' }));

    expect(text).toContain(
      'WARNING: DynamoDB Local listens on every interface of this machine (no network namespace: unshare: spawnSync unshare ENOENT)',
    );
    expect(devBanner(dev())).not.toContain('WARNING');
  });

  it('names the demo key kept from an earlier run, without a raw key to print', () => {
    const text = devBanner(dev({ seeded: { existing: { keyId: 'f'.repeat(64) } } }));

    expect(text).toContain(`Demo key: kept in the data folder from an earlier run (keyId ${'f'.repeat(64)}).`);
    expect(text).not.toContain('export KEY=');
  });

  it('says that plugins may change the answers its curl lines predict, naming them', () => {
    const seeded = { demo: { key: 'gp_demo', keyId: 'a'.repeat(64) }, expired: { key: 'gp_expired', keyId: 'b'.repeat(64) } };

    const text = devBanner(dev({ seeded, plugins: ['/work/plugins/renew-on-expiry.ts'] }));

    expect(text).toContain('your plugins — renew-on-expiry.ts — may change them');
    expect(devBanner(dev({ seeded }))).toContain('Try:\n');
  });
});
