import * as z from 'zod';
import { fieldProblems, InvalidInputError } from '../core/model/input-error.ts';
import { MIN_IMPORTED_KEY_LENGTH } from '../core/model/keys.ts';
import { SessionInputSchema } from '../core/model/session.ts';

/** What the key service takes in: a body checked against its schema, every bad field named at once. */

/** The body of a rotation: how long the keys used until now keep working (0 to 90 days; default 0). */
export const RotateSchema = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(90 * 86_400)
    .default(0),
});

/** A create's body: the key to import (checked), and the session's fields. */
export function splitKey(body: unknown): { key?: string } & Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const { key, ...rest } = body as Record<string, unknown>;
  if (key === undefined) return rest;
  if (typeof key !== 'string' || key.length < MIN_IMPORTED_KEY_LENGTH || key.length > 1024 || !/^[\x21-\x7e]+$/.test(key)) {
    // Validate the rest too, so that every bad field is named at once.
    const keyProblem = { field: 'key', message: `must be a string of ${MIN_IMPORTED_KEY_LENGTH} to 1024 printable ASCII characters` };
    try {
      parse(SessionInputSchema, rest);
    } catch (error) {
      if (error instanceof InvalidInputError) throw new InvalidInputError([keyProblem, ...error.details]);
      throw error;
    }
    throw new InvalidInputError([keyProblem]);
  }
  return { key, ...rest };
}

/** `value`, checked against `schema` (a JSON object); else `InvalidInputError` naming every bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidInputError(fieldProblems(result.error));
  return result.data;
}
