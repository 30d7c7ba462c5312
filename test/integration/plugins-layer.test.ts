import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlugins } from '../../lambdas/core/plugins/plugin-loader.ts';
import { PluginLayer } from '../../lib/plugin-layer.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/plugins');
const NAMES = ['renew-on-expiry', 'custom-auth', 'ip-deny'];

/**
 * The example plugins as they deploy: each bundled by the `PluginLayer` construct into
 * `gatepass/plugins/<name>.mjs` (the layer's `/opt/gatepass/plugins/<name>.mjs`), then
 * loaded by bare name — and imported by plain Node, without tsx, as Lambda does.
 */
describe('the example plugins as Lambda layers', () => {
  let outdir: string;
  const bundles = new Map<string, string>();

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-layers-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'PluginLayers');
    for (const name of NAMES) new PluginLayer(stack, name, { entry: path.join(EXAMPLES, `${name}.ts`) });
    app.synth();
    for (const asset of readdirSync(outdir).filter((f) => f.startsWith('asset.'))) {
      const folder = path.join(outdir, asset, 'gatepass', 'plugins');
      if (!existsSync(folder)) continue;
      for (const file of readdirSync(folder).filter((f) => f.endsWith('.mjs')))
        bundles.set(file.replace(/\.mjs$/, ''), path.join(folder, file));
    }
  }, 120_000); // importing aws-cdk-lib and bundling three layers is slow on a busy machine
  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  it('bundles each example into one gatepass/plugins/<name>.mjs', () => {
    expect([...bundles.keys()].sort()).toEqual([...NAMES].sort());
  });

  it('loads the bundles by bare name from the plugin folder, in the order given', async () => {
    const plugins = await Promise.all(NAMES.map(async (name) => (await loadPlugins([name], path.dirname(bundles.get(name)!)))[0]!));

    expect(plugins.map((p) => p.name)).toEqual(NAMES);
  });

  it('runs the bundles in plain Node (no TypeScript loader), with their hooks working', () => {
    const script = `
      const [renew, auth, deny] = await Promise.all(process.argv.slice(1).map((f) => import(f).then((m) => m.default)));
      const updates = [];
      await renew.postAuth({ now: 1000, log: { info() {} }, session: { expires: 900, isInactive: false, keyId: 'k' },
        updateSession: async (patch) => (updates.push(patch), { expires: patch.expires }) });
      const missing = await auth.auth({ now: 1000, request: { headers: {}, apiId: 'a' }, sessions: {} });
      const denied = deny.pre({ request: { sourceIp: '203.0.113.9' }, log: { info() {} } });
      console.log(JSON.stringify({ names: [renew.name, auth.name, deny.name], updates, missing, denied }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, ...NAMES.map((n) => bundles.get(n)!)], {
      encoding: 'utf8',
    });

    expect(JSON.parse(out)).toEqual({
      names: NAMES,
      updates: [{ expires: 1060 }],
      missing: { deny: { reason: 'missing_token', message: 'Auth token missing' } },
      denied: { deny: { reason: 'ip_denied', message: 'Access from this IP has been disallowed' } },
    });
  });
});
