import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiProblem, type Session } from '../api.ts';
import { fieldErrors } from '../field-errors.ts';
import { utcTime } from '../format.ts';
import { Check, Field, Problem } from './ui.ts';

const CONTROLS = ['alias', 'rate', 'per', 'quotaMax', 'quotaRenewalRate', 'expires', 'applyPolicies', 'tags', 'isInactive'] as const;
type Control = (typeof CONTROLS)[number];

/**
 * A key's settings as a form. Saving sends the fields as a PATCH with `If-Match: <version>`
 * read: if someone changed the key meanwhile, the admin API answers 409 and the form says so
 * (nothing is overwritten). Values go to the admin API as typed; it validates them, and each
 * field's problems are shown next to the field.
 */
export function KeyForm(props: { session: Session; onSaved: () => void; onReload: () => void }) {
  const key = props.session;
  const [values, setValues] = useState<Record<Control, string>>({
    alias: key.alias ?? '',
    rate: String(key.rate),
    per: String(key.per),
    quotaMax: String(key.quotaMax),
    quotaRenewalRate: String(key.quotaRenewalRate),
    expires: String(key.expires),
    applyPolicies: key.applyPolicies.join(', '),
    tags: key.tags.join(', '),
    isInactive: String(key.isInactive),
  });
  const [error, setError] = useState<unknown>(undefined);
  const [saving, setSaving] = useState(false);
  const set = (name: Control) => (value: string) => setValues({ ...values, [name]: value });
  const problems = error instanceof ApiProblem ? fieldErrors(error.fields, CONTROLS) : { byField: {}, other: [] };

  const save = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    setError(undefined);
    try {
      await api(`/keys/${key.keyId}`, { method: 'PATCH', body: patchOf(values), ifMatch: key.version });
      props.onSaved();
    } catch (caught) {
      setError(caught);
    } finally {
      setSaving(false);
    }
  };
  const conflict = error instanceof ApiProblem && error.code === 'version_conflict';
  const field = (name: Control, label: string, hint?: string) =>
    html`<${Field} id=${`key-${name}`} label=${label} value=${values[name]} onInput=${set(name)} errors=${problems.byField[name]} hint=${hint} />`;
  return html`<form class="form" onSubmit=${save} aria-label="Key settings">
    ${
      conflict
        ? html`<div class="problem conflict" role="alert">
          <p><strong>Not saved: this key was changed by someone else</strong> since this page read it (version ${key.version};
            it is now at version ${(error as ApiProblem).currentVersion ?? 'newer'}). Your edits were not applied.</p>
          <button type="button" onClick=${props.onReload}>Load the current version</button>
        </div>`
        : html`<${Problem} error=${error} extra=${problems.other} />`
    }
    ${field('alias', 'Alias')}
    <div class="pair">${field('rate', 'Rate (requests)', '0 = no rate limit')}${field('per', 'Per (seconds)')}</div>
    <div class="pair">${field('quotaMax', 'Quota max', '-1 = unlimited')}${field('quotaRenewalRate', 'Quota window (seconds)', '0 = never renews')}</div>
    ${field('expires', 'Expires (epoch seconds)', Number(values.expires) > 0 ? `0 = never; this is ${utcTime(Number(values.expires))}` : '0 = never')}
    ${field('applyPolicies', 'Policies (comma-separated ids)')}
    ${field('tags', 'Tags (comma-separated)')}
    <${Check} id="key-isInactive" label="Inactive (deny every request)" checked=${values.isInactive === 'true'}
      onChange=${(checked: boolean) => set('isInactive')(String(checked))} />
    <p class="buttons"><button type="submit" class="primary" disabled=${saving}>Save changes</button></p>
  </form>`;
}

/** The PATCH body: numbers where the text is one (else the text, for the admin API to refuse), lists split on commas. */
function patchOf(values: Record<Control, string>): Record<string, unknown> {
  const number = (text: string): unknown => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text);
  const list = (text: string) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  return {
    alias: values.alias.trim() === '' ? null : values.alias.trim(),
    rate: number(values.rate),
    per: number(values.per),
    quotaMax: number(values.quotaMax),
    quotaRenewalRate: number(values.quotaRenewalRate),
    expires: number(values.expires),
    applyPolicies: list(values.applyPolicies),
    tags: list(values.tags),
    isInactive: values.isInactive === 'true',
  };
}
