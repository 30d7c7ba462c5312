import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { type ConsoleInfo, consoleInfo } from '../api.ts';
import { ExplainView } from './explain.ts';
import { KeyView } from './key.ts';
import { KeysList } from './keys-list.ts';
import { useHashPath, useLoad } from './load.ts';
import { PoliciesList } from './policies-list.ts';
import { PolicyEdit } from './policy-edit.ts';
import { TykImport } from './tyk-import.ts';

const KEY_ID = '([0-9a-f]{64})';

/** The console: a header with the views, and the view the location hash names. */
export function App() {
  const path = useHashPath();
  const [info] = useLoad(consoleInfo, []);
  const main = useRef<HTMLElement>(null);
  // A new view: move focus to its heading — once it is there (a view may be loading) — so
  // that keyboard and screen reader users start at the top of it.
  useEffect(() => {
    const root = main.current;
    if (!root) return undefined;
    const focusHeading = (): boolean => {
      const heading = root.querySelector('h1');
      if (!heading) return false;
      heading.tabIndex = -1;
      heading.focus();
      return true;
    };
    if (focusHeading()) return undefined;
    const observer = new MutationObserver(() => focusHeading() && observer.disconnect());
    observer.observe(root, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, [path]);
  const known = info.state === 'ok' ? info.value : { target: '' };
  const section = path.startsWith('/policies') ? 'policies' : 'keys';
  return html`<header class="top">
      <a class="brand" href="#/keys">gatepass console</a>
      <nav aria-label="Views">
        <a href="#/keys" aria-current=${section === 'keys' ? 'page' : undefined}>Keys</a>
        <a href="#/policies" aria-current=${section === 'policies' ? 'page' : undefined}>Policies</a>
      </nav>
      <span class="target" title="The admin API this console calls">${known.target ? `admin API: ${known.target}` : ''}</span>
    </header>
    <main ref=${main}>${view(path, known)}</main>`;
}

function view(path: string, info: ConsoleInfo) {
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^/keys/${KEY_ID}/explain$`).exec(path))) return html`<${ExplainView} key=${m[1]} keyId=${m[1]} info=${info} />`;
  if ((m = new RegExp(`^/keys/${KEY_ID}$`).exec(path))) return html`<${KeyView} key=${m[1]} keyId=${m[1]} info=${info} />`;
  if (path === '/policies') return html`<${PoliciesList} />`;
  if (path === '/policies/new') return html`<${PolicyEdit} />`;
  if (path === '/policies/import') return html`<${TykImport} />`;
  if ((m = /^\/policies\/([A-Za-z0-9_.-]{1,128})$/.exec(path))) return html`<${PolicyEdit} key=${m[1]} id=${m[1]} />`;
  return html`<${KeysList} info=${info} />`;
}
