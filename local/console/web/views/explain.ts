import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiProblem, type ConsoleInfo, type Explanation } from '../api.ts';
import { fieldErrors } from '../field-errors.ts';
import { Field, Problem } from './ui.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const CONTROLS = ['apiId', 'stage', 'method', 'path', 'at'] as const;

/**
 * Explain: the decision a request would get — and what each check found — without
 * consuming anything (`GET /keys/{keyId}/explain`). The time defaults to now; another
 * time (UTC) shows, say, whether the key will have expired by then.
 */
export function ExplainView(props: { keyId: string; info: ConsoleInfo }) {
  const [apiId, setApiId] = useState(props.info.apiId ?? '');
  const [stage, setStage] = useState(props.info.stage ?? '');
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('/');
  const [at, setAt] = useState('');
  const [result, setResult] = useState<Explanation | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const run = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setResult(undefined);
    const seconds = at === '' ? undefined : Math.floor(Date.parse(`${at}Z`) / 1000);
    try {
      setResult(
        await api<Explanation>(`/keys/${props.keyId}/explain`, {
          query: { apiId, stage, method, path, at: Number.isFinite(seconds) ? seconds : at },
        }),
      );
    } catch (caught) {
      setError(caught);
    }
  };
  const problems = error instanceof ApiProblem ? fieldErrors(error.fields, CONTROLS) : { byField: {}, other: [] };
  return html`<h1>Explain a request</h1>
    <p><a href=${`#/keys/${props.keyId}`}>Back to the key</a> · key id <code>${props.keyId}</code></p>
    <form class="form explain" onSubmit=${run} aria-label="Request to explain">
      <${Problem} error=${error} extra=${problems.other} />
      <div class="pair">
        <${Field} id="explain-apiId" label="API id" value=${apiId} onInput=${setApiId} errors=${problems.byField.apiId} />
        <${Field} id="explain-stage" label="Stage" value=${stage} onInput=${setStage} errors=${problems.byField.stage} />
      </div>
      <div class="pair">
        <div class="field">
          <label for="explain-method">Method</label>
          <select id="explain-method" value=${method} onChange=${(event: Event) => setMethod((event.currentTarget as HTMLSelectElement).value)}>
            ${METHODS.map((m) => html`<option value=${m}>${m}</option>`)}
          </select>
        </div>
        <${Field} id="explain-path" label="Path" value=${path} onInput=${setPath} errors=${problems.byField.path} />
      </div>
      <div class="field">
        <label for="explain-at">Time (UTC, empty = now)</label>
        <input id="explain-at" type="datetime-local" step="1" value=${at}
          onInput=${(event: Event) => setAt((event.currentTarget as HTMLInputElement).value)} />
        ${problems.byField.at ? html`<p class="field-error" role="alert">${problems.byField.at.join('; ')}</p>` : null}
      </div>
      <p class="buttons"><button type="submit" class="primary">Explain</button></p>
    </form>
    ${result ? html`<${Verdict} result=${result} />` : null}`;
}

function Verdict(props: { result: Explanation }) {
  const { result } = props;
  return html`<section aria-labelledby="verdict-heading" aria-live="polite">
    <h2 id="verdict-heading">Decision: <span class=${`decision ${result.decision}`}>${result.decision === 'allow' ? 'Allow' : 'Deny'}</span>
      ${result.reason ? html` <code>${result.reason}</code>` : null}</h2>
    ${result.message ? html`<p>The caller would read: “${result.message}”</p>` : null}
    <table class="checks">
      <caption>Checks, in the order the authorizer runs them</caption>
      <thead><tr><th scope="col">Check</th><th scope="col">Outcome</th><th scope="col">What it found</th></tr></thead>
      <tbody>${result.checks.map(
        (check) => html`<tr class=${`outcome-${check.outcome}`}><th scope="row">${check.check.replace('_', ' ')}</th>
          <td><span class=${`outcome ${check.outcome}`}>${check.outcome}</span></td><td>${check.detail}</td></tr>`,
      )}</tbody>
    </table>
  </section>`;
}
