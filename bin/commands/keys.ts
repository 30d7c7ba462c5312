import { Command, InvalidArgumentError, Option } from 'commander';
import {
  call,
  ifMatchHeader,
  ifMatchOption,
  limitBody,
  print,
  withConnection,
  withLimitOptions,
  type CliIo,
  type ConnectionOptions,
  type LimitOptions,
} from './common.ts';
import {
  explanationText,
  sessionFields,
  sessionTable,
  usageText,
  type ExplanationJson,
  type SessionJson,
  type UsageJson,
} from './output.ts';
import { overriddenWarnings } from './limits-output.ts';
import { integer, parseDuration, parseDurationOrNever, parseTime, readJsonFile } from './parse.ts';

type SessionOptions = ConnectionOptions &
  LimitOptions & { alias?: string | false; expiresIn?: number; expiresAt?: number; policy?: string[]; key?: string };

interface Created {
  key: string;
  keyId: string;
  session: SessionJson;
  ignoredFields?: string[];
}

/** `gatepass keys …`: create, read, change, list, explain API keys and show their usage through the admin API. */
export function keysCommand(io: CliIo): Command {
  const keys = new Command('keys').description('manage API keys through the admin API');

  sessionOptions(withConnection(keys.command('create')))
    .description('create a key (or import one with --key); the raw key is shown only once')
    .option('--key <key>', 'import this raw key (at least 16 characters) instead of generating one')
    .action(async (options: SessionOptions) => {
      const body = { ...sessionBody(options), ...(options.key === undefined ? {} : { key: options.key }) };
      const created = (await call(io, options, { method: 'POST', path: '/keys', body })) as Created;
      print(io, options, created, createdText);
      warnOverridden(io, body, created.session);
    });

  withConnection(keys.command('import-tyk'))
    .description('create a key from a Tyk session object (JSON file, or - for standard input)')
    .argument('<file>', "the Tyk session JSON, as Tyk's Gateway API returns it")
    .option('--key <key>', 'the raw key to import (Tyk keeps it outside the session object)')
    .action(async (file: string, options: ConnectionOptions & { key?: string }) => {
      const session = readJsonFile(file);
      const body = options.key === undefined ? session : { ...(session as object), key: options.key };
      const created = (await call(io, options, {
        method: 'POST',
        path: '/keys',
        body,
        contentType: 'application/vnd.tyk.session+json',
      })) as Created;
      print(io, options, created, createdText);
    });

  withConnection(keys.command('get'))
    .description("show a key's session")
    .argument('<keyId>', 'the key id (SHA-256 of the key, as `keys create` prints it)', keyId)
    .action(async (id: string, options: ConnectionOptions) => {
      print(io, options, (await call(io, options, { method: 'GET', path: `/keys/${id}` })) as SessionJson, sessionFields);
    });

  sessionOptions(withConnection(keys.command('update')))
    .description('change the given fields of a key (PATCH), or replace its settings with --replace (PUT)')
    .argument('<keyId>', 'the key id', keyId)
    .option('--no-alias', 'remove the alias')
    .option('--replace', 'replace every setting: fields not given get their defaults (counters are kept)')
    .addOption(ifMatchOption())
    .action(async (id: string, options: SessionOptions & { replace?: boolean; ifMatch?: number }) => {
      const body = sessionBody(options);
      const session = (await call(io, options, {
        method: options.replace ? 'PUT' : 'PATCH',
        path: `/keys/${id}`,
        body,
        headers: ifMatchHeader(options.ifMatch),
      })) as SessionJson;
      print(io, options, session, sessionFields);
      warnOverridden(io, body, session);
    });

  withConnection(keys.command('delete'))
    .description('delete a key')
    .argument('<keyId>', 'the key id', keyId)
    .addOption(ifMatchOption())
    .action(async (id: string, options: ConnectionOptions & { ifMatch?: number }) => {
      await call(io, options, { method: 'DELETE', path: `/keys/${id}`, headers: ifMatchHeader(options.ifMatch) });
      print(io, options, { deleted: id }, () => `deleted ${id}`);
    });

  withConnection(keys.command('reset-quota'))
    .description('give a key its full quota back and start a new quota window now')
    .argument('<keyId>', 'the key id', keyId)
    .addOption(ifMatchOption())
    .action(async (id: string, options: ConnectionOptions & { ifMatch?: number }) => {
      const session = (await call(io, options, {
        method: 'POST',
        path: `/keys/${id}/reset-quota`,
        headers: ifMatchHeader(options.ifMatch),
      })) as SessionJson;
      print(io, options, session, sessionFields);
    });

  withConnection(keys.command('rotate'))
    .description('give a key a new raw key for the same session (one quota); the old key works until the grace ends')
    .argument('<keyId>', 'the key id', keyId)
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 24h, 7d (default: 0, refused at once)', parseDuration)
    .addOption(ifMatchOption())
    .action(async (id: string, options: ConnectionOptions & { grace?: number; ifMatch?: number }) => {
      const created = (await call(io, options, {
        method: 'POST',
        path: `/keys/${id}/rotate`,
        body: { graceSeconds: options.grace ?? 0 },
        headers: ifMatchHeader(options.ifMatch),
      })) as Created;
      print(io, options, created, createdText);
    });

  withConnection(keys.command('list'))
    .description('list keys (all, or those with an alias), a page at a time')
    .option('--alias <alias>', 'only keys with this alias')
    .option('--limit <n>', 'keys per page, 1 to 100 (default 25)', integer(1))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--all', 'follow the cursors and list every page')
    .action(async (options: ConnectionOptions & { alias?: string; limit?: number; cursor?: string; all?: boolean }) => {
      const items: SessionJson[] = [];
      let cursor = options.cursor;
      do {
        const page = (await call(io, options, {
          method: 'GET',
          path: '/keys',
          query: { alias: options.alias, limit: options.limit?.toString(), cursor },
        })) as { items: SessionJson[]; cursor: string | null };
        items.push(...page.items);
        cursor = page.cursor ?? undefined;
      } while (options.all && cursor !== undefined);
      print(io, options, { items, cursor: cursor ?? null }, ({ items: rows, cursor: next }) =>
        [rows.length > 0 ? sessionTable(rows) : 'no keys', ...(next ? ['', `more: gatepass keys list --cursor ${next}`] : [])].join('\n'),
      );
    });

  withConnection(keys.command('explain'))
    .description('show the decision a request would get, check by check, without consuming anything')
    .argument('<keyId>', 'the key id', keyId)
    .option('--api-id <id>', 'the API Gateway API id (default: local, as gatepass dev)', 'local')
    .option('--stage <stage>', 'the API Gateway stage (default: dev, as gatepass dev)', 'dev')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--path <path>', 'request path', '/')
    .option('--at <time>', 'when: epoch seconds or an ISO date (default now)', parseTime)
    .action(
      async (id: string, options: ConnectionOptions & { apiId: string; stage: string; method: string; path: string; at?: number }) => {
        const explanation = (await call(io, options, {
          method: 'GET',
          path: `/keys/${id}/explain`,
          query: { apiId: options.apiId, stage: options.stage, method: options.method, path: options.path, at: options.at?.toString() },
        })) as ExplanationJson;
        print(io, options, explanation, explanationText);
      },
    );

  withConnection(keys.command('usage'))
    .description("show a key's requests per day (UTC): allowed, and denied by reason")
    .argument('<keyId>', 'the key id', keyId)
    .option('--days <n>', 'how many days back, today included: 1 to 90 (default 30)', usageDays)
    .action(async (id: string, options: ConnectionOptions & { days?: number }) => {
      const usage = (await call(io, options, {
        method: 'GET',
        path: `/keys/${id}/usage`,
        query: { days: options.days?.toString() },
      })) as UsageJson;
      print(io, options, usage, usageText);
    });

  return keys;
}

/** The session options of `create` and `update`, on top of the limit options. */
function sessionOptions(command: Command): Command {
  return withLimitOptions(command)
    .option('--alias <alias>', 'a human name, searchable with `keys list --alias`')
    .addOption(
      new Option('--expires-in <duration>', 'expire after this long, e.g. 30d, 12h (never = does not expire)')
        .argParser(parseDurationOrNever)
        .conflicts('expiresAt'),
    )
    .option('--expires-at <time>', 'expire at this time: epoch seconds, an ISO date, or never', parseTime)
    .option('--policy <id>', 'apply this policy (repeatable; replaces the policies)', (value: string, previous: string[] = []) => [
      ...previous,
      value,
    ]);
}

function sessionBody(options: SessionOptions): Record<string, unknown> {
  const body = limitBody(options);
  if (options.alias === false) body.alias = null;
  else if (options.alias !== undefined) body.alias = options.alias;
  if (options.expiresIn !== undefined) body.expires = options.expiresIn === 0 ? 0 : Math.floor(Date.now() / 1000) + options.expiresIn;
  if (options.expiresAt !== undefined) body.expires = options.expiresAt;
  if (options.policy !== undefined) body.applyPolicies = options.policy;
  return body;
}

function createdText(created: Created): string {
  const lines = [
    `key       ${created.key}`,
    '          (shown only this once: store it now; gatepass keeps only its SHA-256)',
    '',
    sessionFields(created.session),
  ];
  if (created.ignoredFields?.length) lines.push('', `ignored Tyk fields: ${created.ignoredFields.join(', ')}`);
  return lines.join('\n');
}

/** On stderr: each limit the command set that a policy overrides (the key's own value is kept, not in force). */
function warnOverridden(io: CliIo, body: Record<string, unknown>, session: SessionJson): void {
  for (const warning of overriddenWarnings(body, session.limits)) io.err(`gatepass: warning: ${warning}\n`);
}

function usageDays(value: string): number {
  const days = integer(1)(value);
  if (days > 90) throw new InvalidArgumentError('must be a whole number from 1 to 90 (usage is answered for up to 90 days)');
  return days;
}

function keyId(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) {
    throw new InvalidArgumentError('must be a key id: 64 lower-case hex characters (the SHA-256 of the key, printed by `keys create`)');
  }
  return value;
}
