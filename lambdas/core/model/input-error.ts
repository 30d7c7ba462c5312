import type * as z from 'zod';

/** One bad field of an input: its path (`a.b.0.c`, or `(body)`) and what is wrong with it. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** Field-level problems with an input, each naming its field (the admin API's 400 `invalid_fields`). */
export class InvalidInputError extends Error {
  readonly details: readonly FieldProblem[];

  constructor(details: readonly FieldProblem[]) {
    super(`invalid fields: ${details.map((d) => d.field).join(', ')}`);
    this.name = 'InvalidInputError';
    this.details = details;
  }
}

/** Every problem zod found, one per field (unknown fields named one by one). */
export function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: base || '(body)', message: issue.message }];
  });
}
