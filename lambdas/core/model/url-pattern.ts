import type { RE2JS } from 're2js';
import { re2 } from './url-pattern-engine.ts';

/**
 * URL patterns (`allowedUrls[].url`) are RE2 regular expressions — Go's syntax, the one Tyk
 * uses — matched with re2js, a pure JavaScript port of RE2 that runs in time linear in the
 * path's length: no pattern can make a request backtrack for minutes. RE2 has no
 * backreferences (`\1`) and no lookaround (`(?=`, `(?!`, `(?<=`), so patterns that use them
 * are refused when they are written, never at request time.
 */

/** Longest pattern, in characters. */
export const MAX_URL_PATTERN_LENGTH = 1024;

/**
 * Largest compiled pattern, in RE2 instructions (`/pets/[0-9]+` is 10, `x{1000}` about
 * 1000). Matching costs the path's length times this, so it is bounded too.
 */
export const MAX_URL_PATTERN_PROGRAM = 1000;

/**
 * Longest path matched against URL patterns, in characters. A longer path matches no
 * pattern (`url_not_allowed`); API Gateway's own limits keep real paths far below it.
 */
export const MAX_MATCHED_PATH_LENGTH = 4096;

/**
 * Most matching work one request may cause, in RE2 instructions times path characters
 * (about 10 ms of CPU here). Rights merged from many policies can list many patterns; past
 * this budget the request matches no further pattern (`url_not_allowed`), so a caller
 * choosing a long path cannot make a request cost seconds.
 */
export const MAX_MATCH_WORK = 4_000_000;

/** The work of matching `pattern` against a path of `pathLength` characters (see {@link MAX_MATCH_WORK}). */
export function urlPatternWork(pattern: string, pathLength: number): number {
  return (compile(pattern)?.programSize() ?? 0) * (pathLength + 1);
}

/**
 * Why `pattern` cannot be a URL pattern, or `undefined` when it can.
 *
 * @example
 * urlPatternProblem('/pets/[0-9]+'); // undefined
 * urlPatternProblem('/(a)\\1');      // 'RE2 cannot compile it (backreferences and lookaround are not supported): invalid escape sequence: `\1`'
 */
export function urlPatternProblem(pattern: string): string | undefined {
  const result = compileChecked(pattern);
  return 'problem' in result ? result.problem : undefined;
}

function compileChecked(pattern: string): { readonly regex: RE2JS } | { readonly problem: string } {
  if (pattern.length === 0) return { problem: 'must not be empty' };
  if (pattern.length > MAX_URL_PATTERN_LENGTH) return { problem: `must be at most ${MAX_URL_PATTERN_LENGTH} characters` };
  const engine = re2(); // not loaded: a fault, not a pattern RE2 refuses
  let regex: RE2JS;
  try {
    regex = engine.compile(pattern);
  } catch (error) {
    const detail = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
    return { problem: `RE2 cannot compile it (backreferences and lookaround are not supported): ${detail}` };
  }
  if (regex.programSize() > MAX_URL_PATTERN_PROGRAM) {
    return {
      problem: `is too complex: it compiles to more than ${MAX_URL_PATTERN_PROGRAM} RE2 instructions (large counted repetitions such as {1000})`,
    };
  }
  return { regex };
}

/** A compiled pattern; `undefined` for one RE2 cannot compile (stored before patterns were checked): it matches nothing. */
type Compiled = RE2JS | undefined;

/**
 * Compiled patterns, least recently used first out, bounded: patterns come from admins and
 * plugins, not callers.
 */
const compiled = new Map<string, Compiled>();
/**
 * The cache's bound, in RE2 instructions (a compiled pattern takes about 85 bytes of heap per
 * instruction, so about 40 MB): thousands of everyday patterns fit, and never fewer than the
 * entries one request may match (MAX_MATCHED_ENTRIES × MAX_URL_PATTERN_PROGRAM = 256,000).
 */
const MAX_COMPILED_PROGRAM = 500_000;
let compiledProgram = 0;

/**
 * Most `allowedUrls` entries matched for one request (the most one access right may list).
 * Rights merged from many policies can list more; past this the request matches no further
 * entry (`url_not_allowed`), so that compiling and matching stay bounded per request.
 */
export const MAX_MATCHED_ENTRIES = 256;

/**
 * True when `pattern` matches the whole of `path` (anchored at both ends). Never throws:
 * a pattern RE2 cannot compile, or a path longer than {@link MAX_MATCHED_PATH_LENGTH},
 * matches nothing — a denial, not a fault.
 *
 * @example
 * urlPatternMatches('/pets/[0-9]+', '/pets/42');   // true
 * urlPatternMatches('/pets/[0-9]+', '/pets/42/x'); // false
 */
export function urlPatternMatches(pattern: string, path: string): boolean {
  if (path.length > MAX_MATCHED_PATH_LENGTH) return false;
  try {
    return compile(pattern)?.testExact(path) ?? false;
  } catch {
    return false; // never reached with a valid string; a denial all the same
  }
}

function compile(pattern: string): Compiled {
  if (compiled.has(pattern)) {
    const hit = compiled.get(pattern);
    compiled.delete(pattern);
    compiled.set(pattern, hit);
    return hit;
  }
  const result = compileChecked(pattern);
  const regex = 'regex' in result ? result.regex : undefined;
  const size = regex?.programSize() ?? 1;
  while (compiledProgram + size > MAX_COMPILED_PROGRAM && compiled.size > 0) {
    const [oldest, old] = compiled.entries().next().value!;
    compiled.delete(oldest);
    compiledProgram -= old?.programSize() ?? 1;
  }
  compiled.set(pattern, regex);
  compiledProgram += size;
  return regex;
}
