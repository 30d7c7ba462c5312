import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPlugins } from '../../lambdas/core/plugins/plugin-loader.ts';
import { PROJECT_ROOT } from '../../lib/bundling.ts';
import { PluginLayer } from '../../lib/plugin-layer.ts';
import { CDK_TEST_TIMEOUT, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

const RENEW_ON_EXPIRY = path.join(PROJECT_ROOT, 'examples/plugins/renew-on-expiry.ts');

describe('PluginLayer', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('is a layer for Node.js 22 on ARM64, named after the entry file', () => {
    const stack = new Stack(testApp(), 'Test');

    const plugin = new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY });

    expect(plugin.pluginName).toBe('renew-on-expiry');
    expect(plugin.entry).toBe(RENEW_ON_EXPIRY);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x'],
      CompatibleArchitectures: ['arm64'],
      Description: 'gatepass plugin renew-on-expiry',
    });
  });

  it('takes a name and a description', () => {
    const stack = new Stack(testApp(), 'Test');

    const plugin = new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY, name: 'renew-v2', description: 'Renews sessions' });

    expect(plugin.pluginName).toBe('renew-v2');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', { Description: 'Renews sessions' });
  });

  it.each(['Renew', 'renew_on_expiry', '-renew', 'x'.repeat(65), ''])('rejects the name %j', (name) => {
    const stack = new Stack(testApp(), 'Test');

    expect(() => new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY, name })).toThrow(/plugin name/);
  });

  it('rejects an entry that does not exist', () => {
    const stack = new Stack(testApp(), 'Test');

    expect(() => new PluginLayer(stack, 'Missing', { entry: 'plugins/missing.ts' })).toThrow(/does not exist/);
  });

  describe('bundle', () => {
    /** Synthesizes with bundling on and returns the folder of the layer's asset. */
    function synthesizedLayer(name?: string): { folder: string; pluginName: string } {
      const app = testApp({ 'aws:cdk:enable-asset-metadata': true }, { bundle: true });
      const stack = new Stack(app, 'Test');
      const plugin = new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY, ...(name ? { name } : {}) });
      const assembly = app.synth();
      const resource = Template.fromStack(stack).toJSON().Resources[logicalId(plugin.layer)];
      return { folder: path.join(assembly.directory, resource.Metadata['aws:asset:path']), pluginName: plugin.pluginName };
    }

    it('puts one ESM file at gatepass/plugins/<name>.mjs, so that it lands in /opt/gatepass/plugins', () => {
      const { folder } = synthesizedLayer('renew-v2');

      expect(existsSync(path.join(folder, 'gatepass/plugins/renew-v2.mjs'))).toBe(true);
      // The authorizer runs without --enable-source-maps: a map would never be read.
      expect(existsSync(path.join(folder, 'gatepass/plugins/renew-v2.mjs.map'))).toBe(false);
    });

    it('is a plugin object when Node imports it, on its own', async () => {
      const { folder, pluginName } = synthesizedLayer();
      const file = path.join(folder, 'gatepass/plugins', `${pluginName}.mjs`);

      const script = `const { default: plugin } = await import(${JSON.stringify(file)});
        console.log(JSON.stringify({ name: plugin.name, hooks: Object.entries(plugin).filter(([, v]) => typeof v === 'function').map(([k]) => k) }));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: folder });

      expect(JSON.parse(stdout)).toEqual({ name: 'renew-on-expiry', hooks: ['postAuth'] });
    });

    it("is loaded by the authorizer's plugin loader from the layer folder", async () => {
      const { folder, pluginName } = synthesizedLayer();

      const [plugin] = await loadPlugins([pluginName], path.join(folder, 'gatepass/plugins'));

      expect(plugin?.name).toBe('renew-on-expiry');
      expect(typeof plugin?.postAuth).toBe('function');
    });
  });
});
