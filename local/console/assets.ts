import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BuildOptions } from 'esbuild';

/** The browser code: `web/main.ts` and what it imports (Preact, htm), bundled into one script. */
const WEB = path.join(import.meta.dirname, 'web');
export const SCRIPT_ENTRY = path.join(WEB, 'main.ts');
/** Where `npm run build` writes the bundle in the package (next to the compiled server). */
export const PREBUILT_SCRIPT = path.join(WEB, 'console.js');
export const STYLESHEET = path.join(WEB, 'console.css');

/**
 * The esbuild options of the page's script, shared by the checkout (bundled when first
 * asked for) and `npm run build` (bundled once, shipped in the package). One ES module,
 * minified, for browsers of the last few years; nothing left to load from elsewhere.
 */
export const SCRIPT_BUILD: BuildOptions = {
  entryPoints: [SCRIPT_ENTRY],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'none',
  logLevel: 'silent',
};

/** The page's static parts: the HTML shell, the script and the stylesheet. */
export interface ConsoleAssets {
  readonly html: string;
  script(): Promise<string>;
  readonly css: string;
  readonly icon: string;
}

/**
 * The console's files. The script is the package's prebuilt bundle when there is one;
 * in a checkout it is bundled from the sources with esbuild (a devDependency there) the
 * first time the page asks for it, then kept.
 */
export function consoleAssets(): ConsoleAssets {
  let script: Promise<string> | undefined;
  return {
    html: PAGE,
    css: readFileSync(STYLESHEET, 'utf8'),
    icon: ICON,
    script: () => (script ??= loadScript()),
  };
}

/** Bundles the page's script from the sources (a checkout), with {@link SCRIPT_BUILD}. */
export async function bundleScript(): Promise<string> {
  const { build } = await import('esbuild');
  const { outputFiles } = await build({ ...SCRIPT_BUILD, write: false });
  return outputFiles[0]!.text;
}

async function loadScript(): Promise<string> {
  if (existsSync(PREBUILT_SCRIPT)) return readFileSync(PREBUILT_SCRIPT, 'utf8');
  return bundleScript();
}

/** The HTML shell: no inline script or style (the CSP forbids both), the app mounts in `main`. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatepass console</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console.css">
<script type="module" src="/console.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the gatepass console…</p></div>
<noscript>The gatepass console needs JavaScript.</noscript>
</body>
</html>
`;

/** A small key-shaped icon, served from here so that the browser asks nothing of elsewhere. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="10" cy="16" r="7" fill="none" stroke="#1f6feb" stroke-width="4"/><path d="M17 16h13M25 16v6M29 16v4" stroke="#1f6feb" stroke-width="4"/></svg>`;
