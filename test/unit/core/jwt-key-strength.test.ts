import { describe, expect, it } from 'vitest';
import { keyWarnings, UnusableKeyError } from '../../../lambdas/core/jwt/key-strength.ts';
import type { Log } from '../../../lambdas/core/model/log.ts';

/** A log that keeps its warnings. */
function recordingLog(): Log & { warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  return {
    warnings,
    debug() {},
    info() {},
    error() {},
    warn: (message, ...extra) => warnings.push({ message, ...Object.assign({}, ...extra) }),
  };
}

describe('keyWarnings', () => {
  it('warns about a kid once, however many tokens name it, with the key source', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'https://issuer.test/jwks.json');

    for (let i = 0; i < 5; i++) warn(new UnusableKeyError('k1', 'the issuer\'s RS256 key "k1" has 1024 bits'));

    expect(log.warnings).toEqual([
      {
        message: expect.stringContaining('unusable'),
        kid: 'k1',
        source: 'https://issuer.test/jwks.json',
        detail: expect.stringContaining('1024 bits'),
      },
    ]);
  });

  it('warns once for each different kid, and once for keys without one', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'jwks');

    for (const kid of ['k1', 'k2', undefined, 'k1', undefined]) warn(new UnusableKeyError(kid, 'weak'));

    expect(log.warnings.map((w) => w.kid)).toEqual(['k1', 'k2', undefined]);
  });

  it('remembers at most max kids, forgetting the oldest first (bounded memory)', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'jwks', 2);

    for (const kid of ['a', 'b', 'c', 'b', 'c', 'a']) warn(new UnusableKeyError(kid, 'weak'));

    // 'a' was forgotten when 'c' came, so it is warned about again; 'b' and 'c' are not.
    expect(log.warnings.map((w) => w.kid)).toEqual(['a', 'b', 'c', 'a']);
  });
});
