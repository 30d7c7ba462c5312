/**
 * What JSON allows but no schema should let through, anywhere in a parsed body:
 * - `__proto__` keys: `JSON.parse` keeps them as own keys, but zod's records rebuild
 *   objects by assignment and silently drop them — access rights for an API named
 *   `__proto__` would come out as `{}`, which means every API;
 * - numbers that cannot be stored: beyond ±Number.MAX_SAFE_INTEGER (the DynamoDB document
 *   client refuses them rather than lose precision) or nearer 0 than 1e-130 (DynamoDB's
 *   smallest magnitude). They would pass the schemas and then fail the write (a 500).
 */
export function unstorable(value: unknown, path = ''): Array<{ field: string; message: string }> {
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    return magnitude > Number.MAX_SAFE_INTEGER || (value !== 0 && magnitude < 1e-130)
      ? [
          {
            field: path || '(body)',
            message: `is outside the range of numbers that can be stored (0, or 1e-130 to ${Number.MAX_SAFE_INTEGER} either side of 0)`,
          },
        ]
      : [];
  }
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([name, child]) => {
    const at = path === '' ? name : `${path}.${name}`;
    return name === '__proto__' ? [{ field: at, message: 'is a reserved name' }] : unstorable(child, at);
  });
}
