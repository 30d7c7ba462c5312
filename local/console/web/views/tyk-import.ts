import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiProblem, type Policy } from '../api.ts';
import { Field, Problem } from './ui.ts';

const EXAMPLE = `{
  "name": "Gold",
  "rate": 100, "per": 60,
  "quota_max": 10000, "quota_renewal_rate": 86400,
  "access_rights": {"my-api": {"api_id": "my-api", "versions": ["prod"]}}
}`;

/**
 * Tyk import: a Tyk policy object (JSON, as Tyk's dashboard exports it) sent as
 * `PUT /policies/{id}` with `content-type: application/vnd.tyk.policy+json`; the admin API
 * maps it, names the fields it ignored, and names bad fields by their Tyk names.
 */
export function TykImport() {
  const [id, setId] = useState('');
  const [source, setSource] = useState(EXAMPLE);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<Policy | undefined>(undefined);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setDone(undefined);
    let body: unknown;
    try {
      body = JSON.parse(source);
    } catch (caught) {
      setError(
        new ApiProblem(400, { error: { code: 'invalid_json', message: `the Tyk policy is not valid JSON: ${(caught as Error).message}` } }),
      );
      return;
    }
    try {
      setDone(
        await api<Policy>(`/policies/${encodeURIComponent(id.trim())}`, {
          method: 'PUT',
          body,
          contentType: 'application/vnd.tyk.policy+json',
        }),
      );
    } catch (caught) {
      setError(caught);
    }
  };
  const fields = error instanceof ApiProblem ? error.fields : [];
  return html`<h1>Import a Tyk policy</h1>
    <p><a href="#/policies">Back to the policies</a></p>
    <form class="form" onSubmit=${submit} aria-label="Tyk policy">
      <${Problem} error=${error} extra=${fields} />
      <${Field} id="tyk-id" label="Policy id in gatepass" value=${id} onInput=${setId} hint="creates the policy, or replaces the one with this id"
        errors=${fields.filter((f) => f.field === 'id').map((f) => f.message)} />
      <${Field} id="tyk-policy" label="Tyk policy (JSON)" value=${source} onInput=${setSource} multiline=${true} rows=${14}
        errors=${fields.filter((f) => f.field !== 'id').map((f) => `${f.field}: ${f.message}`)} />
      <p class="buttons"><button type="submit" class="primary">Import</button></p>
    </form>
    ${
      done
        ? html`<div class="notice" role="status"><p>Imported <a href=${`#/policies/${done.id}`}>policy ${done.id}</a> (version ${done.version}).</p>
          ${done.ignoredFields?.length ? html`<p>Tyk fields gatepass does not use (ignored): ${done.ignoredFields.join(', ')}</p>` : null}</div>`
        : null
    }`;
}
