/**
 * Lease tags: which policies (and versions) the limits of a lease came from. A counter item's
 * lease is spent only under the tag it was taken under (see `counter-items.ts`).
 */

/**
 * The lease tag of the policies a decision was made under: their ids and versions
 * (`id:version`, sorted, comma-separated; policy ids hold neither `:` nor `,`).
 */
export function leaseTag(policies: readonly { readonly id: string; readonly version: number }[]): string {
  return policies
    .map((policy) => `${policy.id}:${policy.version}`)
    .sort()
    .join(',');
}

/**
 * True when the policy versions of `mine` are older than those of `theirs` for some policy
 * both name (`id:version,…`): a view of the policies that another instance has seen replaced.
 */
export function olderTag(mine: string, theirs: string): boolean {
  const versions = (tag: string) => new Map(tag === '' ? [] : tag.split(',').map((part) => part.split(':') as [string, string]));
  const other = versions(theirs);
  for (const [id, version] of versions(mine)) {
    const their = other.get(id);
    if (their !== undefined && Number(version) < Number(their)) return true;
  }
  return false;
}
