import { html } from 'htm/preact';
import { api, type Policy } from '../api.ts';
import { duration, quotaText, rateText } from '../format.ts';
import { useLoad } from './load.ts';
import { Show } from './ui.ts';

/** Every policy (the admin API lists them all, sorted by id), with its limits. */
export function PoliciesList() {
  const [loaded] = useLoad(() => api<{ items: Policy[] }>('/policies'), []);
  return html`<h1>Policies</h1>
    <p class="buttons"><a class="button primary" href="#/policies/new">New policy</a> <a class="button" href="#/policies/import">Import a Tyk policy</a></p>
    <${Show} loaded=${loaded} render=${({ items }: { items: Policy[] }) =>
      items.length === 0
        ? html`<p>No policies yet.</p>`
        : html`<table class="policies">
            <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Rate limit</th><th scope="col">Quota</th>
              <th scope="col">Sessions last</th><th scope="col">Status</th><th scope="col">Version</th></tr></thead>
            <tbody>${items.map(
              (policy) => html`<tr>
                <td><a href=${`#/policies/${policy.id}`}>${policy.id}</a></td>
                <td>${policy.name ?? ''}</td>
                <td>${rateText(policy)}</td>
                <td>${quotaText(policy)}</td>
                <td>${policy.keyExpiresIn === 0 ? 'forever' : duration(policy.keyExpiresIn)}</td>
                <td><span class=${`status ${policy.isInactive ? 'inactive' : 'active'}`}>${policy.isInactive ? 'inactive' : 'active'}</span></td>
                <td>${policy.version}</td>
              </tr>`,
            )}</tbody>
          </table>`} />`;
}
