import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PluginError } from '../../../lambdas/core/model/errors.ts';
import { LAYER_PLUGIN_DIR, loadPlugins, pluginPath } from '../../../lambdas/core/plugins/plugin-loader.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/plugins');
const fixture = (name: string) => path.join(FIXTURES, name);

/** Asserts a PluginError for `plugin` whose message matches `message`. */
async function expectPluginError(promise: Promise<unknown>, plugin: string, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => expect.unreachable('expected a PluginError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PluginError);
  expect(error).toMatchObject({ code: 'ERR_PLUGIN', plugin });
  expect((error as PluginError).message).toMatch(message);
}

describe('pluginPath', () => {
  it('loads a bare name from the layer folder: /opt/gatepass/plugins/<name>.mjs', () => {
    expect(LAYER_PLUGIN_DIR).toBe('/opt/gatepass/plugins');
    expect(pluginPath('renew-on-expiry')).toBe('/opt/gatepass/plugins/renew-on-expiry.mjs');
  });

  it('loads a bare name from the folder given', () => {
    expect(pluginPath('ip-deny', '/tmp/layers')).toBe('/tmp/layers/ip-deny.mjs');
  });

  it('takes an absolute path as it is', () => {
    expect(pluginPath('/srv/plugins/custom-auth.ts', '/tmp/layers')).toBe('/srv/plugins/custom-auth.ts');
  });

  it.each(['./plugins/renew.ts', 'plugins/renew.mjs', 'renew.mjs', 'renew.js', 'renew.cjs'])(
    'takes %s as a path, resolved against the working directory',
    (entry) => {
      expect(pluginPath(entry, '/tmp/layers')).toBe(path.resolve(entry));
    },
  );
});

describe('loadPlugins', () => {
  it('loads .mjs and .ts entries, in the order given', async () => {
    const plugins = await loadPlugins([fixture('denies.mjs'), fixture('every-hook.ts'), fixture('throws.mjs')]);

    expect(plugins.map((p) => p.name)).toEqual(['denies', 'every-hook', 'throws']);
    expect(typeof plugins[1]!.auth).toBe('function');
  });

  it('loads a bare name from the plugin folder', async () => {
    const [plugin] = await loadPlugins(['denies'], FIXTURES);

    expect(plugin!.name).toBe('denies');
  });

  it('loads the example plugins', async () => {
    const examples = path.resolve(import.meta.dirname, '../../../examples/plugins');
    const plugins = await loadPlugins(['renew-on-expiry.ts', 'custom-auth.ts', 'ip-deny.ts'].map((f) => path.join(examples, f)));

    expect(plugins.map((p) => p.name)).toEqual(['renew-on-expiry', 'custom-auth', 'ip-deny']);
  });

  it('loads nothing for an empty list', async () => {
    expect(await loadPlugins([])).toEqual([]);
  });

  it('fails on a missing file, naming the entry and the path tried', async () => {
    await expectPluginError(
      loadPlugins(['not-installed'], FIXTURES),
      'not-installed',
      new RegExp(`failed to load from ${fixture('not-installed.mjs')}`),
    );
  });

  it('fails on a module that throws while loading', async () => {
    const file = fixture('throws-on-load.mjs');

    await expectPluginError(loadPlugins([file]), file, /failed to load.*this plugin cannot start/);
  });

  it.each([
    ['no default export', 'no-default.mjs', /has no default export object/],
    ['a factory as default export instead of the plugin it builds', 'default-factory.mjs', /has no default export object/],
  ])('fails on a module with %s', async (_what, file, message) => {
    await expectPluginError(loadPlugins([fixture(file)]), fixture(file), message);
  });

  it('fails on a plugin without a hook', async () => {
    await expectPluginError(loadPlugins([fixture('no-hooks.mjs')]), 'no-hooks', /defines no hook/);
  });

  it('fails on a hook that is not a function', async () => {
    await expectPluginError(loadPlugins([fixture('hook-not-function.mjs')]), 'hook-not-function', /postAuth must be a function/);
  });

  it('fails on a name that is not lower-case letters, digits and dashes', async () => {
    await expectPluginError(loadPlugins([fixture('bad-name.mjs')]), fixture('bad-name.mjs'), /needs a `name`/);
  });

  it('fails on two plugins with the same name, and on one entry listed twice', async () => {
    await expectPluginError(loadPlugins([fixture('twin-a.mjs'), fixture('twin-b.mjs')]), 'twin', /configured twice/);
    await expectPluginError(loadPlugins(['denies', 'denies'], FIXTURES), 'denies', /configured twice/);
  });

  it('fails on the first bad entry even when the others are fine', async () => {
    await expectPluginError(
      loadPlugins([fixture('denies.mjs'), fixture('no-hooks.mjs'), fixture('throws.mjs')]),
      'no-hooks',
      /defines no hook/,
    );
  });
});
