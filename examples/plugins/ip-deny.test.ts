import { describe, expect, it } from 'vitest';
import plugin, { blockListOf, DENIED_CIDRS, IP_DENIED_MESSAGE, ipDeny } from './ip-deny.ts';
import { hookContext } from './testing.ts';

const DENIED = { deny: { reason: 'ip_denied', message: IP_DENIED_MESSAGE } };

describe('ip-deny', () => {
  const office = ipDeny({ cidrs: ['10.20.0.0/16', '192.0.2.7', '2001:db8:42::/48'] });
  const from = (sourceIp: string) => hookContext({ request: { sourceIp } });

  it('is a plugin named ip-deny with only a pre hook, denying the documentation ranges by default', () => {
    expect(plugin.name).toBe('ip-deny');
    expect(Object.keys(plugin).sort()).toEqual(['name', 'pre']);
    expect(DENIED_CIDRS).toContain('2001:db8::/32');
    expect(plugin.pre(from('203.0.113.9'))).toEqual(DENIED);
    expect(plugin.pre(from('8.8.8.8'))).toBeUndefined();
  });

  it.each(['10.20.0.0', '10.20.255.255', '192.0.2.7', '2001:db8:42::1', '2001:DB8:42:ffff::9', '::ffff:10.20.3.4'])(
    'denies %s with ip_denied',
    (ip) => {
      expect(office.pre(from(ip))).toEqual(DENIED);
    },
  );

  it.each(['10.19.255.255', '10.21.0.0', '192.0.2.8', '2001:db8:43::1', '::1', '127.0.0.1'])('lets %s through', (ip) => {
    expect(office.pre(from(ip))).toBeUndefined();
  });

  it.each(['', 'not-an-ip', '10.20.0'])('denies a source address it cannot read (%j): fail closed', (ip) => {
    expect(office.pre(from(ip))).toEqual(DENIED);
  });

  it('logs the denied address', () => {
    const ctx = from('10.20.0.1');

    office.pre(ctx);

    expect(ctx.log.lines).toEqual([{ level: 'info', message: 'request from a denied address', extra: { sourceIp: '10.20.0.1' } }]);
  });

  it('uses the message given to the factory', () => {
    expect(ipDeny({ cidrs: ['0.0.0.0/0'], message: 'Go away' }).pre(from('1.2.3.4'))).toEqual({
      deny: { reason: 'ip_denied', message: 'Go away' },
    });
  });

  it.each(['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/8/8', 'example.com', '10.0.0.0/-1', '10.0.0.0/08x'])(
    'rejects %j when built, so that the plugin fails to load instead of letting traffic through',
    (cidr) => {
      expect(() => blockListOf([cidr])).toThrow(/not an IP address or CIDR/);
    },
  );
});
