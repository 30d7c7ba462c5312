import { html } from 'htm/preact';
import { api, ApiProblem, limitsTarget, type ConsoleInfo, type Explanation, type Policy, type Session } from '../api.ts';
import { quotaText, rateText, utcTime } from '../format.ts';
import { limitSources } from '../limit-sources.ts';
import { useLoad } from './load.ts';
import { Show } from './ui.ts';

interface InForce {
  readonly explain: Explanation;
  readonly policies: Policy[];
}

/**
 * The limits a key's requests are checked against — after its policies, as the authorizer
 * merges them (explain's `effective`) — and where each comes from; the quota left; the
 * APIs with limits of their own.
 */
export function LimitsInForce(props: { session: Session; info: ConsoleInfo }) {
  const key = props.session;
  const [loaded] = useLoad(async (): Promise<InForce> => {
    const [explain, ...policies] = await Promise.all([
      api<Explanation>(`/keys/${key.keyId}/explain`, { query: limitsTarget(props.info, key) }),
      ...key.applyPolicies.map((id) =>
        api<Policy>(`/policies/${encodeURIComponent(id)}`).catch((error: unknown) => {
          if (error instanceof ApiProblem && error.status === 404) return undefined;
          throw error;
        }),
      ),
    ]);
    return { explain: explain as Explanation, policies: policies.filter((p): p is Policy => p !== undefined) };
  }, [key.keyId, key.version]);
  return html`<${Show} loaded=${loaded} render=${({ explain, policies }: InForce) => {
    const rows = limitSources(key.applyPolicies, policies, explain.effective.limits);
    const apiLimits = Object.entries(explain.effective.accessRights).filter(([, right]) => right.limit !== undefined);
    const { applied, missing, inactive } = explain.effective.policies;
    return html`<table class="limits">
        <thead><tr><th scope="col">Limit</th><th scope="col">In force</th><th scope="col">From</th></tr></thead>
        <tbody>${rows.map((row) => html`<tr><th scope="row">${row.limit}</th><td>${row.value}</td><td>${row.source}</td></tr>`)}</tbody>
      </table>
      <p>Quota left: <strong>${key.quotaRemaining === -1 ? 'unlimited' : key.quotaRemaining}</strong>${
        key.quotaRemaining !== -1 && key.quotaRenews ? html`, renews ${utcTime(key.quotaRenews)}` : null
      }</p>
      ${
        applied.length || missing.length
          ? html`<p>Policies: ${applied.map((id) => html`<a href=${`#/policies/${id}`}>${id}</a>${inactive.includes(id) ? ' (inactive)' : ''} `)}
            ${missing.length ? html`<span class="bad">missing: ${missing.join(', ')}</span>` : null}</p>`
          : null
      }
      ${
        apiLimits.length
          ? html`<p>APIs with limits of their own (counted apart):</p>
            <ul>${apiLimits.map(([apiId, right]) => html`<li><code>${apiId}</code>: ${rateText(right.limit!)}; quota ${quotaText(right.limit!)}</li>`)}</ul>`
          : null
      }`;
  }} />`;
}
