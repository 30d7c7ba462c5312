/**
 * The gatepass web console in the browser: Preact components written with htm (tagged
 * templates, no build step of their own), bundled by esbuild into one script. Every call
 * goes to `/api/*` on the console's local server, which forwards it to the admin API.
 */
import { html, render } from 'htm/preact';
import { App } from './views/app.ts';

const root = document.getElementById('app')!;
root.textContent = '';
render(html`<${App} />`, root);
