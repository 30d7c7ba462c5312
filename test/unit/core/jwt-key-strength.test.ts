import { describe, expect, it } from 'vitest';
import { keyWarnings, UnusableKeyError } from '../../../lambdas/core/jwt/key-strength.ts';
import { recordingLog } from '../../support/fixtures.ts';

describe('keyWarnings', () => {
  it('warns about a kid once, however many tokens name it, with the key source', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'https://issuer.test/jwks.json');

    for (let i = 0; i < 5; i++) warn(new UnusableKeyError('k1', 'the issuer\'s RS256 key "k1" has 1024 bits'));

    expect(log.at('warn')).toEqual([
      {
        level: 'warn',
        message: expect.stringContaining('unusable'),
        fields: { kid: 'k1', source: 'https://issuer.test/jwks.json', detail: expect.stringContaining('1024 bits') },
      },
    ]);
  });

  it('warns once for each different kid, and once for keys without one', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'jwks');

    for (const kid of ['k1', 'k2', undefined, 'k1', undefined]) warn(new UnusableKeyError(kid, 'weak'));

    expect(log.at('warn').map((w) => w.fields.kid)).toEqual(['k1', 'k2', undefined]);
  });

  it('remembers at most max kids, forgetting the oldest first (bounded memory)', () => {
    const log = recordingLog();
    const warn = keyWarnings(log, 'jwks', 2);

    for (const kid of ['a', 'b', 'c', 'b', 'c', 'a']) warn(new UnusableKeyError(kid, 'weak'));

    // 'a' was forgotten when 'c' came, so it is warned about again; 'b' and 'c' are not.
    expect(log.at('warn').map((w) => w.fields.kid)).toEqual(['a', 'b', 'c', 'a']);
  });
});
