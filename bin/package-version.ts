import { createRequire } from 'node:module';

/**
 * The version of the installed gatepass package, from its own package.json (resolved by the
 * package's name, which works alike in a checkout and in `node_modules`: the package
 * exports `./package.json`).
 *
 * @example
 * packageVersion(); // '0.1.0'
 */
export function packageVersion(): string {
  const manifest = createRequire(import.meta.url)('gatepass/package.json') as { version?: unknown };
  if (typeof manifest.version !== 'string') throw new Error('gatepass: its package.json has no version');
  return manifest.version;
}
