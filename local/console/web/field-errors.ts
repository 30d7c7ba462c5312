import type { FieldProblem } from './api.ts';

/**
 * The admin API's field problems grouped by the form control they belong to: a problem on
 * `accessRights.api1.allowedUrls.0.url` belongs to the `accessRights` control, shown with its
 * full path. Problems no control shows are kept apart, to be listed above the form, so that
 * none is lost. Pure, no DOM.
 *
 * @example
 * fieldErrors([{ field: 'per', message: 'must be set with rate' }], ['rate', 'per']);
 * // { byField: { per: ['must be set with rate'] }, other: [] }
 */
export function fieldErrors(
  problems: readonly FieldProblem[],
  controls: readonly string[],
): { byField: Record<string, string[]>; other: FieldProblem[] } {
  const byField: Record<string, string[]> = {};
  const other: FieldProblem[] = [];
  for (const problem of problems) {
    const control = controls.find((name) => problem.field === name || problem.field.startsWith(`${name}.`));
    if (control === undefined) {
      other.push(problem);
      continue;
    }
    const text = problem.field === control ? problem.message : `${problem.field.slice(control.length + 1)}: ${problem.message}`;
    (byField[control] ??= []).push(text);
  }
  return { byField, other };
}
