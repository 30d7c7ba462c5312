import * as z from 'zod';
import type { FieldProblem } from '../core/model/input-error.ts';
import { urlPatternProblem } from '../core/model/url-pattern.ts';
import { tykLimits } from './tyk-limits.ts';

/**
 * Tyk's `access_rights` (a session's or a policy's) as gatepass's `accessRights`: API
 * names, versions, `allowed_urls` and the per-API `limit`.
 */

/** A pattern that matches no path: what a Tyk API whose every `allowed_urls` entry lacks methods allows. */
export const NEVER_MATCHING_URL = '[^\\x00-\\x{10FFFF}]';

const TykAllowedUrlSchema = z.looseObject({
  url: z.string().min(1).max(1024),
  methods: z.array(z.string().max(32)).max(16).nullish(),
});

/** Tyk's `APILimit` (`user/session.go`); the counters and GraphQL/throttle fields are not mapped. */
const TykApiLimitSchema = z.looseObject({
  rate: z.number().optional(),
  per: z.number().optional(),
  quota_max: z.int().optional(),
  quota_renewal_rate: z.int().optional(),
});

export const TykAccessDefinitionSchema = z.looseObject({
  api_id: z.string().optional(),
  api_name: z.string().optional(),
  versions: z.array(z.string().min(1).max(128)).max(64).nullish(),
  allowed_urls: z.array(TykAllowedUrlSchema).max(256).nullish(),
  limit: TykApiLimitSchema.nullish(),
});

export type TykAccess = z.output<typeof TykAccessDefinitionSchema>;

const ACCESS_FIELDS = new Set(['api_id', 'api_name', 'versions', 'allowed_urls']);
const LIMIT_FIELDS = new Set(Object.keys(TykApiLimitSchema.shape));

/**
 * Tyk's `allowed_urls[].url` as a gatepass pattern, converted as Tyk's `PreparePathRegexp`
 * (`internal/httputil/mux.go`, Tyk 5.6+) converts it — mux parameters `{id}` → `([^/]+)`
 * (any `{…}` when the braces balance: Tyk also rewrites a quantifier such as `{1,2}`), a
 * `*` segment between slashes → `/[^/]+/`, any other `/*` → `/.*` — then matched the way
 * Tyk's GranularAccessMiddleware (`gateway/mw_granular_access.go`) matches it by default
 * (`enable_path_prefix_matching` and `…suffix…` off): Go's `MatchString` on the request
 * path, *unanchored*. gatepass
 * anchors at both ends, so the pattern becomes `.*(?:url).*`, which matches the paths Tyk's
 * did (`^`/`$` inside included; RE2's `.` does not cross a newline, so a path with a
 * decoded `%0A` before the match is denied where Tyk allowed it). Both are RE2 regexps.
 *
 * @example
 * tykUrlPattern('/items/*');            // '.*(?:/items/.*).*'       — not /itemsecret
 * tykUrlPattern('/api/' + '*' + '/users'); // '.*(?:/api/[^/]+/users).*' — /api/v1/users
 * tykUrlPattern('/pets/{id}');          // '.*(?:/pets/([^/]+)).*'
 */
export function tykUrlPattern(url: string): string {
  let pattern = url;
  const opening = pattern.split('{').length - 1;
  if (opening > 0 && opening === pattern.split('}').length - 1) pattern = pattern.replace(/\{([^}]+)\}/g, '([^/]+)');
  if (pattern.includes('/*')) pattern = pattern.replaceAll('/*/', '/[^/]+/').replaceAll('/*', '/.*');
  return `.*(?:${pattern}).*`;
}

/**
 * Maps `access_rights`; `withLimits` maps each API's `limit` (a session's own, or a per-API
 * policy's), which Tyk ignores elsewhere. Returns the rights and the Tyk fields ignored.
 */
export function tykAccessRights(
  rights: Record<string, TykAccess>,
  withLimits: boolean,
  problems: FieldProblem[],
): { accessRights: Record<string, unknown>; ignored: string[] } {
  const accessRights: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [apiId, def] of Object.entries(rights)) {
    const at = `access_rights.${apiId}`;
    const right: Record<string, unknown> = {};
    if (def.api_name) right.apiName = def.api_name;
    if (def.versions?.length) right.versions = def.versions;
    if (def.allowed_urls?.length) right.allowedUrls = allowedUrls(def.allowed_urls, at, problems);
    ignored.push(...unmapped(def, ACCESS_FIELDS, 'limit', `${at}.`));
    if (def.limit && !isZeroValue(def.limit)) {
      if (withLimits) {
        // Tyk's IsEmpty: a limit with any field set replaces the key's limits for this API.
        right.limit = tykLimits(def.limit, 'api', problems, `${at}.limit.`);
        ignored.push(...unmapped(def.limit, LIMIT_FIELDS, undefined, `${at}.limit.`));
      } else {
        ignored.push(`${at}.limit`);
      }
    }
    // Defined, not assigned: an API id such as `__proto__` must stay an ordinary key.
    Object.defineProperty(accessRights, apiId, { value: right, enumerable: true, writable: true, configurable: true });
  }
  return { accessRights, ignored };
}

function allowedUrls(specs: z.output<typeof TykAllowedUrlSchema>[], at: string, problems: FieldProblem[]): unknown[] {
  const entries: Array<{ url: string; methods: string[] }> = [];
  specs.forEach((spec, i) => {
    const field = `${at}.allowed_urls.${i}`;
    const methods = [...new Set(spec.methods ?? [])];
    methods.forEach((method, j) => {
      if (!/^[A-Z]+$/.test(method)) {
        problems.push({
          field: `${field}.methods.${j}`,
          message: 'must be an upper-case HTTP method (Tyk compares methods case-sensitively)',
        });
      }
    });
    const url = tykUrlPattern(spec.url);
    const problem = urlPatternProblem(url);
    if (problem !== undefined) problems.push({ field: `${field}.url`, message: `once converted to ${JSON.stringify(url)}: ${problem}` });
    // No methods: Tyk allows nothing through this entry (it looks for the method in an empty list).
    if (methods.length > 0) entries.push({ url, methods });
  });
  return entries.length > 0 ? entries : [{ url: NEVER_MATCHING_URL }];
}

/** Fields not mapped that carry a value (Tyk exports zero values for everything). */
export function unmapped(object: Record<string, unknown>, known: ReadonlySet<string>, skip: string | undefined, prefix: string): string[] {
  return Object.entries(object)
    .filter(([name, value]) => name !== skip && !known.has(name) && !isZeroValue(value))
    .map(([name]) => prefix + name)
    .sort();
}

export function isZeroValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isZeroValue);
  return false;
}
