import { build } from 'esbuild';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** url-pattern.ts with an engine nobody has loaded yet (the setup file loaded the shared one). */
async function fresh() {
  vi.resetModules();
  const engine = await import('../../../lambdas/core/model/url-pattern-engine.ts');
  const patterns = await import('../../../lambdas/core/model/url-pattern.ts');
  return { ...engine, ...patterns };
}

const NOT_LOADED = /used before the RE2 engine was loaded/;
const WITH_URLS = { accessRights: { api1: { allowedUrls: [{ url: '/pets/[0-9]+' }] } } };

describe('the RE2 engine, loaded on first need', () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it('is not loaded until asked: using a pattern before is a fault, not a match or a miss', async () => {
    const { urlPatternProblem, urlPatternWork } = await fresh();

    expect(() => urlPatternProblem('/pets')).toThrow(NOT_LOADED);
    expect(() => urlPatternWork('/pets', 5)).toThrow(NOT_LOADED);
  });

  it('loads for rights, policies or patches that list URL patterns, and only for them', async () => {
    const { preloadUrlPatterns, urlPatternMatches, urlPatternProblem } = await fresh();

    await preloadUrlPatterns(undefined, {}, { accessRights: {} }, { accessRights: { api1: { allowedUrls: [] } } });
    expect(() => urlPatternProblem('/pets')).toThrow(NOT_LOADED);

    await preloadUrlPatterns({ accessRights: {} }, WITH_URLS);
    expect(urlPatternProblem('/(a)\\1')).toMatch(/RE2 cannot compile it/);
    expect(urlPatternMatches('/pets/[0-9]+', '/pets/42')).toBe(true);
  });

  it('does not cache a pattern used before the engine was loaded as one that matches nothing', async () => {
    const { loadUrlPatternEngine, urlPatternMatches, urlPatternWork } = await fresh();
    expect(() => urlPatternWork('/pets', 5)).toThrow(NOT_LOADED);

    await loadUrlPatternEngine();

    expect(urlPatternMatches('/pets', '/pets')).toBe(true);
  });
});

describe("the authorizer's bundle", () => {
  it('reaches re2js only through a dynamic import: its start-up never evaluates it', async () => {
    const result = await build({
      entryPoints: [path.resolve(import.meta.dirname, '../../../lambdas/authorizer/handler.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      write: false,
      metafile: true,
      outfile: 'out.mjs',
      logLevel: 'silent',
    });
    const imports = Object.entries(result.metafile.inputs).flatMap(([from, input]) =>
      input.imports.filter((i) => i.path.includes('node_modules/re2js/')).map((i) => ({ from, kind: i.kind })),
    );
    const outside = imports.filter((i) => !i.from.includes('node_modules/re2js/'));

    expect(outside).toEqual([{ from: 'lambdas/core/model/url-pattern-engine.ts', kind: 'dynamic-import' }]);
  });
});
