#!/usr/bin/env node
// The `gatepass` command: runs the TypeScript CLI through tsx, so that `npx gatepass`
// works in a checkout without a build step.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
await import('./gatepass.ts');
