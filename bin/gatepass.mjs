#!/usr/bin/env node
// The `gatepass` command. In a checkout, where the TypeScript sources sit next to this file,
// it runs them through tsx (a devDependency; it also lets `gatepass dev` load TypeScript
// plugins). The installed package has no sources: there it runs the compiled CLI in dist/
// (`npm run build`), with no dev dependency at all.
import { existsSync } from 'node:fs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const source = new URL('./gatepass.ts', import.meta.url);
if (existsSync(source)) {
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  // A TypeScript file outside a "type": "module" package (a plugin in a folder without a
  // package.json) is CommonJS to Node, loaded through require: tsx's CommonJS hook compiles it.
  cjs.register();
  await import(source.href);
} else {
  await import('../dist/bin/gatepass.js');
}
