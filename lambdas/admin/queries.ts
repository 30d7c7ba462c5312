import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { fieldProblems, InvalidInputError } from '../core/model/input-error.ts';
import { MAX_PAGE_SIZE } from './session-index.ts';

/** Default page size of `GET /keys`. */
export const DEFAULT_PAGE_SIZE = 25;

const wholeNumber = (digits: number, message: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9]{1,${digits}}$`), message)
    .transform(Number);

/** `GET /keys?alias=&limit=&cursor=`: unknown parameters are named like unknown body fields. */
export const ListQuerySchema = z.strictObject({
  alias: z.string().min(1).max(256).optional(),
  limit: wholeNumber(3, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .pipe(
      z
        .number()
        .min(1, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
        .max(MAX_PAGE_SIZE, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`),
    )
    .default(DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1).max(2048).optional(),
});

/**
 * `GET /keys/{keyId}/explain?apiId=&stage=&method=&path=&at=`: the request to explain.
 * `apiId` and `stage` are required (access rights depend on them); `method` defaults to
 * GET (any case), `path` to `/`, `at` (epoch s) to now.
 */
export const ExplainQuerySchema = z.strictObject({
  apiId: z.string().min(1).max(128),
  stage: z.string().min(1).max(128),
  method: z
    .string()
    .regex(/^[A-Za-z]{1,16}$/, 'must be an HTTP method such as GET')
    .transform((method) => method.toUpperCase())
    .default('GET'),
  path: z.string().max(2048).startsWith('/', 'must start with /').default('/'),
  at: wholeNumber(12, 'must be epoch seconds').optional(),
});

/** The query string, validated by `schema`; 400 naming every bad parameter. */
export function parseQuery<S extends z.ZodType>(event: APIGatewayProxyEventV2, schema: S): z.output<S> {
  const result = schema.safeParse(event.queryStringParameters ?? {});
  if (!result.success) throw new InvalidInputError(fieldProblems(result.error));
  return result.data;
}
