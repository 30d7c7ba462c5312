import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, limitsTarget, type ConsoleInfo, type Explanation, type KeyUsage, type Session } from '../api.ts';
import { deniedTotal, keyStatus, quotaText, rateText, shortId } from '../format.ts';
import { useLoad } from './load.ts';
import { Problem, Show } from './ui.ts';

/** Keys per page; the admin API pages the list with a cursor. */
const PAGE_SIZE = 20;

/**
 * The keys: searchable by alias (the admin API's alias index: an exact alias), a page at a
 * time, each with its status, the limits in force (after its policies, from explain) and
 * today's usage.
 */
export function KeysList(props: { info: ConsoleInfo }) {
  const [alias, setAlias] = useState('');
  const [search, setSearch] = useState('');
  // The cursors of the pages seen, to go back: [undefined] is the first page.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [page] = useLoad(
    () => api<{ items: Session[]; cursor: string | null }>('/keys', { query: { alias: search, limit: PAGE_SIZE, cursor } }),
    [search, cursor],
  );
  const submit = (event: Event) => {
    event.preventDefault();
    setSearch(alias.trim());
    setCursors([undefined]);
  };
  return html`<h1>Keys</h1>
    <form class="search" role="search" onSubmit=${submit}>
      <label for="alias-search">Alias</label>
      <input id="alias-search" type="search" value=${alias} placeholder="exact alias, e.g. demo"
        onInput=${(event: Event) => setAlias((event.currentTarget as HTMLInputElement).value)} />
      <button type="submit">Search</button>
      ${
        search
          ? html`<button type="button" onClick=${() => {
              setAlias('');
              setSearch('');
              setCursors([undefined]);
            }}>Show all</button>`
          : null
      }
    </form>
    <${Show} loaded=${page} render=${(value: { items: Session[]; cursor: string | null }) => html`
      ${
        value.items.length === 0
          ? html`<p>${search ? `No key has the alias “${search}”.` : 'No keys yet. Create one with the CLI or POST /keys.'}</p>`
          : html`<table class="keys">
            <caption class="visually-hidden">Keys, page ${cursors.length}</caption>
            <thead><tr><th scope="col">Alias</th><th scope="col">Key id</th><th scope="col">Status</th>
              <th scope="col">Rate limit in force</th><th scope="col">Quota in force</th><th scope="col">Today (UTC)</th></tr></thead>
            <tbody>${value.items.map((key) => html`<${KeyRow} key=${key.keyId} session=${key} info=${props.info} />`)}</tbody>
          </table>`
      }
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
        <span>Page ${cursors.length}</span>
        <button type="button" disabled=${value.cursor === null} onClick=${() => setCursors([...cursors, value.cursor!])}>Next page</button>
      </nav>`} />`;
}

/** One key: what the list answer holds, plus its limits in force and today's usage, loaded alongside. */
function KeyRow(props: { session: Session; info: ConsoleInfo }) {
  const key = props.session;
  const [extra] = useLoad(async () => {
    const [explain, usage] = await Promise.all([
      api<Explanation>(`/keys/${key.keyId}/explain`, { query: limitsTarget(props.info, key) }),
      api<KeyUsage>(`/keys/${key.keyId}/usage`, { query: { days: 1 } }),
    ]);
    return { limits: explain.effective.limits, today: usage.days[0] };
  }, [key.keyId, key.version]);
  const status = keyStatus(key, Math.floor(Date.now() / 1000));
  const cells =
    extra.state === 'ok'
      ? html`<td>${rateText(extra.value.limits)}</td><td>${quotaText(extra.value.limits)}</td>
          <td>${extra.value.today ? `${extra.value.today.allowed} allowed, ${deniedTotal(extra.value.today.denied)} denied` : '—'}</td>`
      : extra.state === 'error'
        ? html`<td colspan="3"><${Problem} error=${extra.error} /></td>`
        : html`<td colspan="3" class="loading">…</td>`;
  return html`<tr>
    <td><a href=${`#/keys/${key.keyId}`}>${key.alias ?? '(no alias)'}</a></td>
    <td><code title=${key.keyId}>${shortId(key.keyId)}</code></td>
    <td><span class=${`status ${status}`}>${status}</span></td>
    ${cells}
  </tr>`;
}
