/**
 * A user's CDK app, outside the repository, with gatepass installed from its `npm pack`
 * tarball: the helpers of test/package/pack.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

export const REPO = path.resolve(import.meta.dirname, '../..');

const run = promisify(execFile);

/** Output of a command that may fail; a failure is data here, for the test to assert on. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * This process's environment without the `npm_*` variables `npm test` sets: a child npm would
 * read `npm_config_local_prefix` and the like, and act on the repository instead of `cwd`.
 */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_'))), ...extra };
}

/** Runs a command in `cwd`; never throws for a non-zero exit. */
export async function command(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, [...args], { cwd, env: cleanEnv(env), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? failed.message,
    };
  }
}

/**
 * `npm pack --json` of the repository into `destination` (its `prepack` script runs `npm run
 * build`): the tarball's path, and what npm printed, which must be its JSON and nothing else
 * (scripts that release packages parse it).
 */
export async function packRepository(destination: string): Promise<{ tarball: string; packJson: unknown }> {
  const result = await command('npm', ['pack', '--json', '--pack-destination', destination], REPO);
  if (result.code !== 0) throw new Error(`npm pack failed:\n${result.stdout}${result.stderr}`);
  const tarball = readdirSync(destination).find((file) => file.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball:\n${result.stdout}`);
  let packJson: unknown;
  try {
    packJson = JSON.parse(result.stdout);
  } catch {
    packJson = { notJson: result.stdout };
  }
  return { tarball: path.join(destination, tarball), packJson };
}

interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly peer?: boolean;
  readonly link?: boolean;
}

/**
 * The app's package-lock.json: gatepass from the tarball, and gatepass's runtime dependencies
 * as the repository's lock pins them (no dev dependency, no peer). With it `npm ci` needs no
 * registry metadata: every tarball comes from the npm cache that installed the repository,
 * so the test runs offline.
 */
function consumerLock(tarball: string): object {
  const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const runtime = Object.entries(lock.packages).filter(
    ([location, entry]) => location.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.peer && !entry.link,
  );
  const spec = `file:${tarball}`;
  return {
    name: 'consumer-app',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'consumer-app', dependencies: { gatepass: spec } },
      'node_modules/gatepass': {
        version: manifest.version,
        resolved: spec,
        license: manifest.license,
        dependencies: manifest.dependencies,
        peerDependencies: manifest.peerDependencies,
        peerDependenciesMeta: manifest.peerDependenciesMeta,
        bin: manifest.bin,
        engines: manifest.engines,
      },
      ...Object.fromEntries(
        runtime.map(([location, entry]) => [location, { ...entry, resolved: entry.resolved ?? registryTarball(location, entry) }]),
      ),
    },
  };
}

/** The registry's tarball URL of a lock entry (the repository's lock leaves `resolved` out). */
function registryTarball(location: string, entry: LockEntry): string {
  const name = location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
  return `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
}

/**
 * Creates the app in `dir` and installs gatepass from `tarball` with `npm ci` (the cache is
 * enough; the registry is asked only for what it lacks). The peer dependencies a CDK app has
 * anyway (aws-cdk-lib, constructs) and @types/node are links to the repository's copies.
 * esbuild, tsx and every other dev dependency of gatepass are absent.
 */
export async function installConsumerApp(dir: string, tarball: string, files: Readonly<Record<string, string>>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer-app', private: true, type: 'module', dependencies: { gatepass: `file:${tarball}` } }),
  );
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(consumerLock(tarball)));
  const install = await command(
    'npm',
    ['ci', '--prefer-offline', '--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund'],
    dir,
  );
  if (install.code !== 0) throw new Error(`npm ci of the packed tarball failed:\n${install.stdout}${install.stderr}`);
  for (const name of ['aws-cdk-lib', 'constructs', '@types/node']) {
    mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
}

/** Every file under `dir`, relative to it. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}
