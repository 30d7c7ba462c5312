import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { ApiProblem, type FieldProblem } from '../api.ts';

/** A labelled text or number control with its field errors (announced, and linked with aria-describedby). */
export function Field(props: {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  errors?: readonly string[] | undefined;
  type?: 'text' | 'number';
  hint?: string;
  multiline?: boolean;
  /** Rows of a multiline control. @default 6 */
  rows?: number;
  disabled?: boolean;
}) {
  const errors = props.errors ?? [];
  const described = [props.hint ? `${props.id}-hint` : '', errors.length ? `${props.id}-error` : ''].filter(Boolean).join(' ');
  const common = {
    id: props.id,
    name: props.id,
    value: props.value,
    disabled: props.disabled,
    'aria-invalid': errors.length > 0 ? 'true' : undefined,
    'aria-describedby': described || undefined,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value),
  };
  return html`<div class=${`field${errors.length ? ' invalid' : ''}`}>
    <label for=${props.id}>${props.label}</label>
    ${props.multiline ? html`<textarea rows=${props.rows ?? 6} spellcheck="false" ...${common}></textarea>` : html`<input type=${props.type ?? 'text'} ...${common} />`}
    ${props.hint ? html`<small id=${`${props.id}-hint`} class="hint">${props.hint}</small>` : null}
    ${errors.length ? html`<p id=${`${props.id}-error`} class="field-error" role="alert">${errors.join('; ')}</p>` : null}
  </div>`;
}

/** A labelled checkbox. */
export function Check(props: { id: string; label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  return html`<div class="check">
    <input type="checkbox" id=${props.id} name=${props.id} checked=${props.checked}
      onChange=${(event: Event) => props.onChange((event.currentTarget as HTMLInputElement).checked)} />
    <label for=${props.id}>${props.label}</label>
  </div>`;
}

/** An admin API error, said plainly: its message, code, and any field problems not shown elsewhere. */
export function Problem(props: { error: unknown; extra?: readonly FieldProblem[]; children?: ComponentChildren }) {
  if (props.error === undefined) return null;
  const problem = props.error instanceof ApiProblem ? props.error : undefined;
  const message = problem?.message ?? String(props.error);
  return html`<div class="problem" role="alert">
    <p><strong>${problem ? `${problem.status || 'error'} ${problem.code}` : 'error'}:</strong> ${message}</p>
    ${props.extra?.length ? html`<ul>${props.extra.map((p) => html`<li><code>${p.field}</code>: ${p.message}</li>`)}</ul>` : null}
    ${props.children}
  </div>`;
}

/**
 * A button for an action that destroys or resets something: the first press asks, in
 * place, and only the second (on "Yes, …") acts. Escape or "Cancel" backs out.
 */
export function ConfirmButton(props: { label: string; question: string; onConfirm: () => Promise<void> | void; danger?: boolean }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return html`<button type="button" class=${props.danger ? 'danger' : ''} onClick=${() => setAsking(true)}>${props.label}</button>`;
  }
  const confirm = async () => {
    setBusy(true);
    try {
      await props.onConfirm();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return html`<div class="confirm" role="group" aria-label=${props.question}
      onKeyDown=${(event: KeyboardEvent) => event.key === 'Escape' && setAsking(false)}>
    <span>${props.question}</span>
    <button type="button" class=${props.danger ? 'danger' : 'primary'} disabled=${busy} onClick=${confirm}
      ref=${(el: HTMLButtonElement | null) => el?.focus()}>Yes, ${props.label.toLowerCase()}</button>
    <button type="button" onClick=${() => setAsking(false)}>Cancel</button>
  </div>`;
}

/** Data loaded for a view: loading, the value, or the error. */
export type Loaded<T> = { state: 'loading' } | { state: 'ok'; value: T } | { state: 'error'; error: unknown };

/** Shows a {@link Loaded} value with `render`, or its loading line, or its error. */
export function Show<T>(props: { loaded: Loaded<T>; render: (value: T) => unknown }) {
  if (props.loaded.state === 'loading') return html`<p class="loading" aria-live="polite">Loading…</p>`;
  if (props.loaded.state === 'error') return html`<${Problem} error=${props.loaded.error} />`;
  return props.render(props.loaded.value);
}
