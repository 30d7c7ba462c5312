import { InvalidArgumentError, Option, type Command } from 'commander';
import { functionUrlRegion, RequestSigner } from './sigv4.ts';
import { HttpTransport, LambdaTransport, type AdminRequest, type AdminTransport } from './transport.ts';
import { collect, collectMeta, integer, parseDuration, parseJson, parseQuota, readJsonFile, UsageError } from './parse.ts';

/** Default admin URL: the local admin port of `gatepass dev`. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:3001';

/** Where output goes and how the admin API is reached; tests replace these. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** @default HTTP or Lambda, from `--admin-url` / `--function` */
  readonly transport?: (options: ConnectionOptions) => AdminTransport;
}

export interface ConnectionOptions {
  readonly adminUrl?: string;
  readonly function?: string;
  /** Sign `--admin-url` requests (SigV4) for this Region; a Function URL's own Region is used without it. */
  readonly region?: string;
  readonly json?: boolean;
}

/** The admin API answered an error (`{"error": {code, message, details?}}`): exit code 1. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    super(error?.message ?? `the admin API answered ${status}`);
    this.status = status;
    this.code = error?.code ?? 'http_error';
    this.details = error?.details;
    this.body = body;
  }
}

/** Adds `--admin-url`, `--function` and `--json` to a command that talks to the admin API. */
export function withConnection(command: Command): Command {
  return command
    .addOption(
      new Option('--admin-url <url>', `admin API URL (env GATEPASS_ADMIN_URL, default ${DEFAULT_ADMIN_URL})`)
        .argParser(url)
        .conflicts('function'),
    )
    .addOption(new Option('--function <name>', 'invoke this admin Lambda instead (AWS region and credentials from the environment)'))
    .addOption(
      new Option(
        '--region <region>',
        'sign --admin-url requests (SigV4) for this AWS Region; a Function URL is signed for its own Region without it',
      ).conflicts('function'),
    )
    .option('--json', "print the admin API's JSON answer instead of a table");
}

/** Rate, quota, access rights, tags, metadata and status options, shared by keys and policies. */
export function withLimitOptions(command: Command): Command {
  return command
    .option('--quota-max <n>', 'requests per quota window (-1 or "unlimited")', parseQuota)
    .option('--quota-renewal-rate <duration>', 'quota window, e.g. 1h, 30d (0 = never renews)', parseDuration)
    .option('--rate <n>', 'requests allowed per --per window (0 = no rate limit)', integer(0))
    .option('--per <duration>', 'rate limit window, e.g. 1s, 1m', parseDuration)
    .option('--access-rights-json <json>', 'access rights as JSON: {"apiId": {"versions": [...], "allowedUrls": [...]}}', parseJson)
    .option('--tag <tag>', 'a tag (repeatable; replaces the tags)', collect)
    .option('--meta <name=value>', 'a metadata entry, as a string (repeatable; replaces the metadata)', collectMeta)
    .addOption(new Option('--inactive', 'deny every request').conflicts('active'))
    .option('--active', 'allow requests again')
    .option('--body <file>', 'JSON body from a file, or - for standard input; options override its fields');
}

export interface LimitOptions {
  readonly quotaMax?: number;
  readonly quotaRenewalRate?: number;
  readonly rate?: number;
  readonly per?: number;
  readonly accessRightsJson?: unknown;
  readonly tag?: string[];
  readonly meta?: Record<string, string>;
  readonly inactive?: boolean;
  readonly active?: boolean;
  readonly body?: string;
}

/** The `--body` (an object) with the limit options laid over it. */
export function limitBody(options: LimitOptions): Record<string, unknown> {
  const base = options.body === undefined ? {} : readJsonFile(options.body);
  if (base === null || typeof base !== 'object' || Array.isArray(base)) throw new UsageError('--body must hold a JSON object');
  const body: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  const set = (name: string, value: unknown): void => {
    if (value !== undefined) body[name] = value;
  };
  set('quotaMax', options.quotaMax);
  set('quotaRenewalRate', options.quotaRenewalRate);
  set('rate', options.rate);
  set('per', options.per);
  set('accessRights', options.accessRightsJson);
  set('tags', options.tag);
  set('metaData', options.meta);
  if (options.inactive) body.isInactive = true;
  if (options.active) body.isInactive = false;
  return body;
}

/**
 * How the admin API is reached: the Lambda by name, or the URL — signed with SigV4 (AWS
 * credentials from the standard provider chain) when it is a Lambda Function URL or a
 * Region is given, unsigned otherwise (the local admin port).
 */
export function transportOf(io: CliIo, options: ConnectionOptions): AdminTransport {
  if (io.transport) return io.transport(options);
  if (options.function !== undefined) return new LambdaTransport(options.function);
  const url = options.adminUrl ?? io.env.GATEPASS_ADMIN_URL ?? DEFAULT_ADMIN_URL;
  const region = options.region ?? functionUrlRegion(url);
  return new HttpTransport(url, region === undefined ? {} : { signer: new RequestSigner({ region }) });
}

/** Sends a request; an error status becomes an {@link ApiError}. */
export async function call(io: CliIo, options: ConnectionOptions, request: AdminRequest): Promise<unknown> {
  const response = await transportOf(io, options).send(request);
  if (response.status >= 400) throw new ApiError(response.status, response.body);
  return response.body;
}

/** Prints `json` as JSON with `--json`, else what `human` makes of it. */
export function print<T>(io: CliIo, options: ConnectionOptions, json: T, human: (value: T) => string): void {
  io.out(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${human(json)}\n`);
}

/** `--if-match <version>`. */
export const ifMatchOption = (): Option =>
  new Option('--if-match <version>', 'only if the item is still at this version (else 409)').argParser(integer(0));

/** The `If-Match` header for `--if-match`, if given. */
export function ifMatchHeader(version: number | undefined): Record<string, string> {
  return version === undefined ? {} : { 'If-Match': String(version) };
}

function url(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return value;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(`"${value}" is not an http(s) URL`);
}
