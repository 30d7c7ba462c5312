/**
 * ip-deny: a `pre` hook that denies requests from listed networks (IPv4 and IPv6 CIDRs,
 * or single addresses) before any session is read — 403, reason `ip_denied`. Matching is
 * node:net's `BlockList`, which also matches IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
 * against IPv4 ranges. A source address that cannot be parsed is denied too (fail closed).
 *
 * The default export denies {@link DENIED_CIDRS}; for your own list, write a one-line module:
 *
 * @example
 * // plugins/block-office.ts
 * import { ipDeny } from './ip-deny.ts';
 * export default ipDeny({ name: 'block-office', cidrs: ['10.20.0.0/16', '2001:db8:42::/48'] });
 */
import { BlockList, isIP } from 'node:net';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';

/** The documentation ranges (RFC 5737, RFC 3849): never routed, safe to ship as a default. */
export const DENIED_CIDRS: readonly string[] = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32'];

export const IP_DENIED_MESSAGE = 'Access from this IP has been disallowed';

export interface IpDenyOptions {
  /** @default 'ip-deny' */
  readonly name?: string;
  /** CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses. @default DENIED_CIDRS */
  readonly cidrs?: readonly string[];
  /** @default IP_DENIED_MESSAGE */
  readonly message?: string;
}

/** A `BlockList` of the given entries; throws on an entry that is not an address or CIDR. */
export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = '', prefix, ...extra] = entry.trim().split('/');
    const version = isIP(address);
    const max = version === 4 ? 32 : 128;
    const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (version === 0 || extra.length > 0 || !(bits >= 0 && bits <= max)) {
      throw new TypeError(`not an IP address or CIDR: ${JSON.stringify(entry)}`);
    }
    list.addSubnet(address, bits, version === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

export function ipDeny(options: IpDenyOptions = {}) {
  const name = options.name ?? 'ip-deny';
  const message = options.message ?? IP_DENIED_MESSAGE;
  const denied = blockListOf(options.cidrs ?? DENIED_CIDRS); // once, at load: a bad entry fails the load

  return {
    name,
    pre(ctx) {
      const ip = ctx.request.sourceIp;
      const version = isIP(ip);
      let blocked = true;
      if (version !== 0) {
        try {
          blocked = denied.check(ip, version === 4 ? 'ipv4' : 'ipv6');
        } catch {
          blocked = true; // e.g. an IPv6 zone id (fe80::1%eth0) that BlockList refuses
        }
      }
      if (!blocked) return undefined;
      ctx.log.info('request from a denied address', { sourceIp: ip || '(none)' });
      return { deny: { reason: 'ip_denied', message } };
    },
  } satisfies GatepassPlugin;
}

export default ipDeny();
