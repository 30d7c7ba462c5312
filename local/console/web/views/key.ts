import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, type ConsoleInfo, type Session } from '../api.ts';
import { keyStatus, utcTime } from '../format.ts';
import { KeyForm } from './key-form.ts';
import { LimitsInForce } from './limits.ts';
import { go, useLoad } from './load.ts';
import { ConfirmButton, Problem, Show } from './ui.ts';
import { UsagePanel } from './usage-chart.ts';

/**
 * One key: its settings (editable, guarded by `If-Match`), the limits in force and where
 * each comes from, its usage per day, and the actions — reset quota, rotate (a new raw key,
 * shown once; the old one works for the grace chosen) and delete, each asked about first.
 */
export function KeyView(props: { keyId: string; info: ConsoleInfo }) {
  const [loaded, reload] = useLoad(() => api<Session>(`/keys/${props.keyId}`), [props.keyId]);
  // Kept here: the details below start afresh with each version of the key.
  const [notice, setNotice] = useState('');
  return html`<${Show} loaded=${loaded} render=${(key: Session) =>
    html`<${KeyDetail} key=${key.version} session=${key} info=${props.info} reload=${reload} notice=${notice} setNotice=${setNotice} />`} />`;
}

function KeyDetail(props: { session: Session; info: ConsoleInfo; reload: () => void; notice: string; setNotice: (text: string) => void }) {
  const key = props.session;
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [grace, setGrace] = useState(86_400);
  let newKey = '';
  const { notice, setNotice } = props;
  const act = async (run: () => Promise<unknown>, done: string, after: () => void) => {
    setActionError(undefined);
    try {
      await run();
      setNotice(done);
      after();
    } catch (error) {
      setActionError(error);
    }
  };
  const status = keyStatus(key, Math.floor(Date.now() / 1000));
  return html`<h1>Key ${key.alias ? html`<q>${key.alias}</q>` : '(no alias)'} <span class=${`status ${status}`}>${status}</span></h1>
    <p class="meta"><span>Key id <code>${key.keyId}</code></span>
      <span>version ${key.version}</span><span>created ${utcTime(key.createdAt)}</span><span>updated ${utcTime(key.updatedAt)}</span></p>
    <p><a class="button" href=${`#/keys/${key.keyId}/explain`}>Explain a request…</a> <a href="#/keys">Back to the keys</a></p>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <div class="columns">
      <section aria-labelledby="limits-heading">
        <h2 id="limits-heading">Limits in force</h2>
        <${LimitsInForce} session=${key} info=${props.info} />
      </section>
      <section aria-labelledby="settings-heading">
        <h2 id="settings-heading">Settings</h2>
        <${KeyForm} session=${key} onSaved=${() => {
          setNotice('Saved.');
          props.reload();
        }} onReload=${props.reload} />
      </section>
    </div>
    <section aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage per day</h2>
      <${UsagePanel} keyId=${key.keyId} />
    </section>
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <${Problem} error=${actionError} />
      <div class="actions">
        <${ConfirmButton} label="Reset quota" question="Give this key a full quota window from now?"
          onConfirm=${() => act(() => api(`/keys/${key.keyId}/reset-quota`, { method: 'POST', ifMatch: key.version }), 'Quota reset.', props.reload)} />
        <label>Grace for the old key <select value=${grace} onChange=${(event: Event) => setGrace(Number((event.target as HTMLSelectElement).value))}>
          ${GRACES.map(([seconds, name]) => html`<option value=${seconds}>${name}</option>`)}
        </select></label>
        <${ConfirmButton} label="Rotate key" question="Give this key a new raw key? The old one stops working when the grace ends."
          onConfirm=${() =>
            act(
              async () => {
                const rotated = await api<{ key: string }>(`/keys/${key.keyId}/rotate`, {
                  method: 'POST',
                  body: { graceSeconds: grace },
                  ifMatch: key.version,
                });
                newKey = rotated.key;
              },
              'Rotated.',
              () => {
                // The notice outlives this view's reload; the raw key is shown here only.
                setNotice(`Rotated. The new key, shown only this once (gatepass keeps its hash): ${newKey}`);
                props.reload();
              },
            )} />
        <${ConfirmButton} label="Delete key" danger=${true} question="Delete this key? Requests with it will be refused; this cannot be undone."
          onConfirm=${() =>
            act(
              () => api(`/keys/${key.keyId}`, { method: 'DELETE', ifMatch: key.version }),
              'Deleted.',
              () => go('/keys'),
            )} />
      </div>
    </section>`;
}

/** The graces the console offers for a rotation (the admin API takes any, up to 90 days). */
const GRACES: readonly (readonly [number, string])[] = [
  [0, 'none'],
  [3600, '1 hour'],
  [86_400, '24 hours'],
  [604_800, '7 days'],
];
