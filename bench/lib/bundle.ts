/**
 * The authorizer bundled as the CDK construct builds it (`lambdaBuildOptions`), and what an
 * import of it reads: the entry and the chunks it imports statically, in bytes per package.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { lambdaBuildOptions, PROJECT_ROOT, RUNTIME_PROVIDED_MODULES } from '../../lib/index.ts';

const OUT_DIR = path.join(PROJECT_ROOT, 'bench', '.out');
const AUTHORIZER_ENTRY = path.join(PROJECT_ROOT, 'lambdas', 'authorizer', 'handler.ts');

export interface Bundle {
  /** The entry, `index.mjs`. */
  readonly file: string;
  /** Bytes Node reads at import: `index.mjs` and the chunks it imports statically. */
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Every output file, the chunks loaded on demand included. */
  readonly totalBytes: number;
  /** The heaviest packages in what is read at import, as text. */
  readonly largest: string;
  /** Bytes read at import, per package. */
  readonly byPackage: ReadonlyMap<string, number>;
}

export interface BundleOptions {
  /** @default the authorizer's handler */
  readonly entry?: string;
  /** @default {@link RUNTIME_PROVIDED_MODULES} (none: the AWS SDK bundled too) */
  readonly external?: readonly string[];
  /** `false`: one file, no chunks (the way CDK's NodejsFunction bundles). @default true */
  readonly splitting?: boolean;
}

/**
 * Builds `entry` into `bench/.out/<name>/` exactly as the CDK construct does
 * ({@link lambdaBuildOptions}), but for the options given.
 */
export async function bundleAuthorizer(name: string, options: BundleOptions = {}): Promise<Bundle> {
  const dir = path.join(OUT_DIR, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await build({
    ...lambdaBuildOptions(options.entry ?? AUTHORIZER_ENTRY, dir),
    external: [...(options.external ?? RUNTIME_PROVIDED_MODULES)],
    splitting: options.splitting ?? true,
    sourcemap: false,
    metafile: true,
  });
  const outputs = result.metafile.outputs;
  const entry = Object.keys(outputs).find((file) => path.basename(file) === 'index.mjs');
  if (entry === undefined) throw new Error(`esbuild wrote no index.mjs for ${name}`);
  const atStart = staticallyImported(outputs, entry);
  const byPackage = bytesByPackage(atStart.map((file) => outputs[file]!));
  const contents = Buffer.concat(atStart.map((file) => readFileSync(path.resolve(file))));
  return {
    file: path.join(dir, 'index.mjs'),
    bytes: contents.length,
    gzipBytes: gzipSync(contents).length,
    totalBytes: Object.values(outputs).reduce((sum, output) => sum + output.bytes, 0),
    largest: largestOf(byPackage),
    byPackage,
  };
}

/** `entry` and every output file it imports statically, directly or not (what an import of it reads). */
function staticallyImported(outputs: Metafile['outputs'], entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of outputs[file]?.imports ?? [])
      if (imported.kind === 'import-statement' && imported.path in outputs) visit(imported.path);
  };
  visit(entry);
  return [...seen];
}

/** Bytes in these outputs per package (`gatepass` for our own code). */
function bytesByPackage(outputs: readonly Metafile['outputs'][string][]): Map<string, number> {
  const byPackage = new Map<string, number>();
  for (const output of outputs) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match?.[1] ?? 'gatepass';
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return byPackage;
}

/** `jose 40 KB, zod 38 KB, …`: the `count` largest of `bytes`. */
export function largestOf(bytes: ReadonlyMap<string, number>, count = 5): string {
  return [...bytes.entries()]
    .filter(([, n]) => n >= 512)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => `${name} ${(n / 1024).toFixed(0)} KB`)
    .join(', ');
}

/** What `bundle` reads at import beyond what `floor` reads, per package. */
export function beyond(bundle: Bundle, floor: Bundle): Map<string, number> {
  return new Map([...bundle.byPackage].map(([name, n]) => [name, n - (floor.byPackage.get(name) ?? 0)]));
}
