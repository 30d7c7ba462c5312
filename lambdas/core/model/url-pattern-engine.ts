/**
 * The RE2 engine behind URL patterns (re2js, about 150 KB of JavaScript), loaded on first
 * need with a dynamic import instead of at start-up: most keys have no URL rights, and an
 * authorizer's cold start should not pay for an engine its first requests do not use.
 *
 * Checking or matching a pattern is synchronous (inside schemas and `decide`), so the engine
 * must be loaded before: whoever is about to handle rights or a policy that lists URL
 * patterns awaits {@link preloadUrlPatterns} (or {@link loadUrlPatternEngine}) first. Using a
 * pattern before that is a fault (the request fails closed), never a silent match or miss.
 */
import type { RE2JS } from 're2js';

let engine: typeof RE2JS | undefined;
let loading: Promise<typeof RE2JS> | undefined;

/** Loads the engine; resolves at once once loaded. */
export async function loadUrlPatternEngine(): Promise<void> {
  if (engine !== undefined) return;
  loading ??= import('re2js').then((module) => module.RE2JS);
  try {
    engine = await loading;
  } catch (error) {
    loading = undefined; // the next request tries again
    throw error;
  }
}

/**
 * Loads the engine if any of `sources` (sessions, policies, session patches, as stored or
 * as sent) lists URL patterns in its `accessRights`; resolves at once otherwise.
 *
 * @example
 * await preloadUrlPatterns(item, ...policies); // before deciding on them
 */
export async function preloadUrlPatterns(...sources: readonly unknown[]): Promise<void> {
  if (engine === undefined && sources.some(listsUrlPatterns)) await loadUrlPatternEngine();
}

/** The engine; throws (a programming fault: the request fails closed) when it was not loaded first. */
export function re2(): typeof RE2JS {
  if (engine === undefined) throw new Error('a URL pattern was used before the RE2 engine was loaded (loadUrlPatternEngine)');
  return engine;
}

function listsUrlPatterns(source: unknown): boolean {
  const rights = (source as { accessRights?: unknown } | null | undefined)?.accessRights;
  if (typeof rights !== 'object' || rights === null) return false;
  return Object.values(rights).some((right) => {
    const urls = (right as { allowedUrls?: unknown } | null)?.allowedUrls;
    return Array.isArray(urls) && urls.length > 0;
  });
}
