import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiProblem, type Policy } from '../api.ts';
import { fieldErrors } from '../field-errors.ts';
import { go, useLoad } from './load.ts';
import { Check, ConfirmButton, Field, Problem, Show } from './ui.ts';

const CONTROLS = [
  'id',
  'name',
  'rate',
  'per',
  'quotaMax',
  'quotaRenewalRate',
  'keyExpiresIn',
  'tags',
  'accessRights',
  'metaData',
  'partitions',
] as const;
type Control = Exclude<(typeof CONTROLS)[number], 'partitions'>;
const PARTS = ['quota', 'rateLimit', 'acl', 'perApi'] as const;

/** A policy: view and edit it (`id` given), or create one. */
export function PolicyEdit(props: { id?: string }) {
  const [loaded, reload] = useLoad(
    async () => (props.id === undefined ? undefined : await api<Policy>(`/policies/${encodeURIComponent(props.id)}`)),
    [props.id],
  );
  // Kept here: the form starts afresh with each version of the policy.
  const [saved, setSaved] = useState('');
  return html`<${Show} loaded=${loaded} render=${(policy: Policy | undefined) =>
    html`<${PolicyForm} key=${policy?.version ?? 'new'} policy=${policy} reload=${reload} saved=${saved} setSaved=${setSaved} />`} />`;
}

/**
 * The policy form. Saving is a `PUT /policies/{id}` — with `If-Match: <version>` for an
 * edit (a 409 says someone else changed it), `If-None-Match: *` for a new one (a 409 says
 * the id is taken). The admin API validates; each field's problems show next to it.
 */
function PolicyForm(props: { policy: Policy | undefined; reload: () => void; saved: string; setSaved: (text: string) => void }) {
  const p = props.policy;
  const text = (n: number | undefined) => (n === undefined ? '' : String(n));
  const [values, setValues] = useState<Record<Control, string>>({
    id: p?.id ?? '',
    name: p?.name ?? '',
    rate: text(p?.rate),
    per: text(p?.per),
    quotaMax: text(p?.quotaMax),
    quotaRenewalRate: text(p?.quotaRenewalRate),
    keyExpiresIn: text(p?.keyExpiresIn ?? 0),
    tags: (p?.tags ?? []).join(', '),
    accessRights: JSON.stringify(p?.accessRights ?? {}, null, 2),
    metaData: JSON.stringify(p?.metaData ?? {}, null, 2),
  });
  const [parts, setParts] = useState<Record<string, boolean>>({ ...p?.partitions });
  const [inactive, setInactive] = useState(p?.isInactive ?? false);
  const [error, setError] = useState<unknown>(undefined);
  const { saved, setSaved } = props;
  const set = (name: Control) => (value: string) => setValues({ ...values, [name]: value });

  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setSaved('');
    try {
      const body = bodyOf(values, parts, inactive);
      const id = values.id.trim();
      const answer = await api<Policy>(`/policies/${encodeURIComponent(id)}`, {
        method: 'PUT',
        body,
        ...(p === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: p.version }),
      });
      if (p === undefined) go(`/policies/${answer.id}`);
      else {
        setSaved(`Saved: version ${answer.version}.`);
        props.reload();
      }
    } catch (caught) {
      setError(caught);
    }
  };
  const problems =
    error instanceof ApiProblem ? fieldErrors(error.fields, CONTROLS) : { byField: {} as Record<string, string[]>, other: [] };
  const conflict = error instanceof ApiProblem && error.status === 409;
  const field = (name: Control, label: string, options: { hint?: string; multiline?: boolean } = {}) =>
    html`<${Field} id=${`policy-${name}`} label=${label} value=${values[name]} onInput=${set(name)} errors=${problems.byField[name]}
      hint=${options.hint} multiline=${options.multiline} disabled=${name === 'id' && p !== undefined} />`;
  return html`<h1>${p ? `Policy ${p.id}` : 'New policy'}</h1>
    <p><a href="#/policies">Back to the policies</a>${p ? ` · version ${p.version}` : ''}</p>
    ${saved ? html`<p class="notice" role="status">${saved}</p>` : null}
    <form class="form" onSubmit=${save} aria-label="Policy">
      ${
        conflict
          ? html`<div class="problem conflict" role="alert">
            <p><strong>Not saved: ${p ? `this policy was changed by someone else since this page read it (version ${p.version}; now ${(error as ApiProblem).currentVersion ?? 'newer'})` : 'a policy with this id already exists'}.</strong>
              ${(error as ApiProblem).message}</p>
            ${p ? html`<button type="button" onClick=${props.reload}>Load the current version</button>` : null}
          </div>`
          : html`<${Problem} error=${error} extra=${problems.other} />`
      }
      ${field('id', 'Id', { hint: 'letters, digits, _, . or -' })}
      ${field('name', 'Name')}
      <div class="pair">${field('rate', 'Rate (requests)', { hint: 'empty = not set; 0 = no limit' })}${field('per', 'Per (seconds)')}</div>
      <div class="pair">${field('quotaMax', 'Quota max', { hint: 'empty = not set; -1 = unlimited' })}${field('quotaRenewalRate', 'Quota window (seconds)')}</div>
      ${field('keyExpiresIn', 'Sessions last (seconds)', { hint: 'for JWT sessions created from this policy; 0 = forever' })}
      ${field('tags', 'Tags (comma-separated)')}
      ${field('accessRights', 'Access rights (JSON)', { multiline: true, hint: '{"apiId": {"versions": ["prod"], "allowedUrls": [{"url": "/pets.*", "methods": ["GET"]}]}}; {} = every API' })}
      ${field('metaData', 'Metadata (JSON)', { multiline: true })}
      <fieldset>
        <legend>Partitions (none checked: the policy applies whole)</legend>
        ${PARTS.map(
          (part) => html`<${Check} id=${`policy-part-${part}`} label=${part} checked=${parts[part] === true}
          onChange=${(checked: boolean) => setParts({ ...parts, [part]: checked })} />`,
        )}
        ${problems.byField.partitions ? html`<p class="field-error" role="alert">${problems.byField.partitions.join('; ')}</p>` : null}
      </fieldset>
      <${Check} id="policy-isInactive" label="Inactive (keys with this policy are denied)" checked=${inactive} onChange=${setInactive} />
      <p class="buttons"><button type="submit" class="primary">${p ? 'Save changes' : 'Create policy'}</button></p>
    </form>
    ${p ? html`<${DeletePolicy} policy=${p} />` : null}`;
}

function DeletePolicy(props: { policy: Policy }) {
  const [error, setError] = useState<unknown>(undefined);
  const remove = async () => {
    try {
      await api(`/policies/${encodeURIComponent(props.policy.id)}`, { method: 'DELETE', ifMatch: props.policy.version });
      go('/policies');
    } catch (caught) {
      setError(caught);
    }
  };
  return html`<section aria-labelledby="policy-actions"><h2 id="policy-actions">Actions</h2>
    <${Problem} error=${error} />
    <${ConfirmButton} label="Delete policy" danger=${true} onConfirm=${remove}
      question="Delete this policy? Keys that apply it will be denied (no_matching_policy)." />
  </section>`;
}

/** The PUT body: empty limits left out (not set), numbers as numbers where they are, JSON fields parsed where they parse. */
function bodyOf(values: Record<Control, string>, parts: Record<string, boolean>, isInactive: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { isInactive };
  const number = (text: string): unknown => (Number.isFinite(Number(text)) ? Number(text) : text);
  const json = (text: string): unknown => {
    try {
      return JSON.parse(text === '' ? '{}' : text);
    } catch {
      return text; // the admin API names the field: "expected record"
    }
  };
  if (values.name.trim() !== '') body.name = values.name.trim();
  for (const name of ['rate', 'per', 'quotaMax', 'quotaRenewalRate', 'keyExpiresIn'] as const) {
    if (values[name].trim() !== '') body[name] = number(values[name].trim());
  }
  body.tags = values.tags
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  body.accessRights = json(values.accessRights);
  body.metaData = json(values.metaData);
  const chosen = Object.fromEntries(PARTS.filter((part) => parts[part]).map((part) => [part, true]));
  if (Object.keys(chosen).length > 0) body.partitions = chosen;
  return body;
}
