// What Lambda's Node.js runtime does in its process before it imports the handler, done the
// same way here so that the cold-start benchmark's fresh process starts from where a Lambda's
// does. It follows the runtime interface client, github.com/aws/aws-lambda-nodejs-runtime-interface-client
// (aws-lambda-ric 3.3.0, commit da5777a), `src/index.mjs` `run()` up to the handler's import;
// the file and lines of each step are given below. Both bundles the benchmark compares get it.
//
// Left out, because they cannot be done here or cost nothing a bundle's import could share:
// the native RAPID client (`require('./rapid-client.node')`, src/NativeModuleLoader.js line 7,
// a C++ addon over libcurl that talks to the Lambda API; it loads no JavaScript module), the
// `uncaughtException`/`unhandledRejection` handlers' error reporting to that API, and
// `bin/index.mjs`'s `console.log('Executing …')` (line 12): that line is the npm package's command for
// container images, not part of `run()`.
import { createRequire } from 'node:module';

/**
 * Brings this process to the state Lambda's runtime is in just before `import(handlerFile)`
 * (src/UserFunction.js line 81, an absolute path, not a URL), for a handler `index.handler`
 * whose file is `handlerFile` (`…/index.mjs`).
 */
export function prepareAsLambdaRuntime(handlerFile) {
  // The runtime is one esbuild ESM bundle (src/build.js lines 10-21) whose banner makes a
  // `require`, and whose modules run as it loads (src/index.mjs lines 8-14). Node modules they
  // require at load: util (src/Errors.js line 9, src/LogPatch.js line 7), fs (src/LogPatch.js
  // line 8, src/UserFunction.js line 11), path (src/UserFunction.js line 10), assert
  // (src/InvokeContext.js line 11, `.strict`), net (src/ResponseStream.js line 9).
  const require = createRequire(import.meta.url);
  require('node:util');
  const fs = require('node:fs');
  require('node:path');
  require('node:assert').strict;
  require('node:net');

  // run(), src/index.mjs line 17: LogPatch.patchConsole() (src/LogPatch.js lines 177-265)
  // replaces console.trace/debug/info/log/warn/error and adds console.fatal. On Lambda
  // `_LAMBDA_TELEMETRY_LOG_FD` is set, and each call writes a framed record to that descriptor
  // with fs.writeSync (lines 127-145, 250-257); here fd 2 stands in for it (the parent reads
  // the result line from stdout). Nothing is written, and process.stdout is not opened, until
  // something logs.
  const write =
    (level) =>
    (...params) => {
      fs.writeSync(2, `${new Date().toISOString()}\tundefined\t${level}\t${params.map(String).join(' ')}\n`);
    };
  console.trace = write('TRACE');
  console.debug = write('DEBUG');
  console.info = write('INFO');
  console.log = console.info;
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.fatal = write('FATAL');

  // run(), src/index.mjs line 18: new RAPIDClient(AWS_LAMBDA_RUNTIME_API) requires http and
  // makes a keep-alive agent (src/RAPIDClient.js lines 20-31).
  const http = require('node:http');
  new http.Agent({ keepAlive: true, maxSockets: 1 });

  // run(), src/index.mjs lines 29-41: process-wide listeners (on Lambda they report to the API).
  process.on('uncaughtException', (error) => {
    console.error('Uncaught Exception', error);
    process.exit(129);
  });
  process.on('unhandledRejection', (reason) => {
    console.error('Unhandled Promise Rejection', reason);
    process.exit(128);
  });
  process.on('beforeExit', () => undefined);

  // run(), src/index.mjs lines 43-45: UserFunction.load. The global `awslambda`
  // (src/UserFunction.js lines 203-214), then the probes for `index` before the import
  // (lines 150, 156 with 125-131, 158, 169-170): `index` (CommonJS), `index.js` (twice), `index.mjs`.
  globalThis.awslambda = { streamifyResponse: (handler) => handler, HttpResponseStream: class HttpResponseStream {} };
  const base = handlerFile.replace(/\.mjs$/, '');
  fs.existsSync(base);
  fs.existsSync(`${base}.js`);
  fs.existsSync(`${base}.js`);
  fs.existsSync(handlerFile);
}
