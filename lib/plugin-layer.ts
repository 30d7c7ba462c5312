import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage, type BundlingOptions, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { BuildOptions } from 'esbuild';
import { LAYER_PLUGIN_DIR } from '../lambdas/core/plugins/plugin-loader.ts';
import { ESM_REQUIRE_BANNER, loadEsbuild, RUNTIME_PROVIDED_MODULES } from './bundling.ts';

/** What a plugin name may look like (the authorizer's loader asks the same of `plugin.name`). */
export const PLUGIN_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Where Lambda mounts layers; a layer's `gatepass/plugins/x.mjs` is `/opt/gatepass/plugins/x.mjs`. */
const LAYER_MOUNT = '/opt';

/** Properties of {@link PluginLayer}. */
export interface PluginLayerProps {
  /** The plugin's entry file (TypeScript or JavaScript), absolute or relative to the cwd. */
  readonly entry: string;
  /**
   * The plugin's name: its bundle is `/opt/gatepass/plugins/<name>.mjs` and the authorizer's
   * config lists it under this name. Lower-case letters, digits and dashes, at most 64.
   *
   * @default - the entry's file name without its extension
   */
  readonly name?: string;
  /**
   * Description of the layer version.
   *
   * @default `gatepass plugin <name>`
   */
  readonly description?: string;
}

/**
 * A gatepass plugin (see examples/plugins/README.md) bundled into a Lambda layer: one minified ESM file
 * `gatepass/plugins/<name>.mjs` (so `/opt/gatepass/plugins/<name>.mjs` in the function),
 * built at synth time by the local esbuild, without Docker. Attach it with
 * `GatepassAuthorizer.addPlugin`, which also adds the name to the authorizer's config.
 *
 * @example
 * const renew = new PluginLayer(this, 'RenewOnExpiry', { entry: 'examples/plugins/renew-on-expiry.ts' });
 * authorizer.addPlugin(renew); // GATEPASS_CONFIG.plugins: [..., 'renew-on-expiry']
 */
export class PluginLayer extends Construct {
  /** The layer version. */
  public readonly layer: lambda.LayerVersion;
  /** The plugin's name, as listed in the authorizer's config. */
  public readonly pluginName: string;
  /** The entry file, as an absolute path. */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: PluginLayerProps) {
    super(scope, id);

    this.entry = path.resolve(props.entry);
    if (!existsSync(this.entry)) throw new Error(`gatepass: plugin entry ${this.entry} does not exist`);
    this.pluginName = props.name ?? path.basename(this.entry).replace(/\.[^.]+$/, '');
    if (!PLUGIN_NAME_PATTERN.test(this.pluginName)) {
      throw new Error(
        `gatepass: plugin name "${this.pluginName}" must be 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit (set \`name\`)`,
      );
    }

    const bundler = new PluginBundler(this.entry, this.pluginName);
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code: lambda.Code.fromAsset(path.dirname(this.entry), {
        // The bundle, not the entry's folder, is the asset: a change in an imported module counts.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          local: bundler,
          // Never pulled: local bundling always succeeds or throws.
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox'),
        },
      }),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      description: props.description ?? `gatepass plugin ${this.pluginName}`,
    });
  }
}

/**
 * Bundles one plugin with esbuild into `<outputDir>/gatepass/plugins/<name>.mjs`. Its fields
 * are part of CDK's asset cache key, so two plugins in one folder never share a bundle.
 */
class PluginBundler implements ILocalBundling {
  readonly options: BuildOptions;

  constructor(
    readonly entry: string,
    readonly name: string,
  ) {
    this.options = {
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      keepNames: true,
      // No source map: the authorizer runs without --enable-source-maps, so none would be read.
      mainFields: ['module', 'main'],
      banner: { js: ESM_REQUIRE_BANNER },
      external: [...RUNTIME_PROVIDED_MODULES],
      logLevel: 'error',
    };
  }

  tryBundle(outputDir: string, _options: BundlingOptions): boolean {
    const folder = path.posix.relative(LAYER_MOUNT, LAYER_PLUGIN_DIR);
    loadEsbuild().buildSync({ ...this.options, outfile: path.join(outputDir, folder, `${this.name}.mjs`) });
    return true;
  }
}
