import { Command, InvalidArgumentError } from 'commander';
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
import { policyFields, policyTable, type PolicyJson } from './output.ts';
import { parseDurationOrNever, readJsonFile, UsageError } from './parse.ts';

type PutOptions = ConnectionOptions &
  LimitOptions & { name?: string; keyExpiresIn?: number; tyk?: string; ifMatch?: number; createOnly?: boolean };

/** `gatepass policies …`: create, read, list and delete policies through the admin API. */
export function policiesCommand(io: CliIo): Command {
  const policies = new Command('policies').description('manage policies through the admin API');

  withLimitOptions(withConnection(policies.command('put')))
    .description('create or replace a policy (fields not given get their defaults)')
    .argument('<id>', 'policy id: letters, digits, _, . or -', policyId)
    .option('--name <name>', 'a human name')
    .option('--key-expires-in <duration>', 'lifetime of sessions created from this policy, e.g. 30d (never = 0)', parseDurationOrNever)
    .option('--tyk <file>', 'a Tyk policy object (JSON file, or - for standard input) instead of the options')
    .addOption(ifMatchOption().conflicts('createOnly'))
    .option('--create-only', 'only create: fail with 409 if the policy exists')
    .action(async (id: string, options: PutOptions) => {
      const tyk = options.tyk !== undefined;
      if (tyk && hasFieldOptions(options)) throw new UsageError('--tyk takes the whole policy from the file: drop the field options');
      const body = tyk ? readJsonFile(options.tyk!) : policyBody(options);
      const policy = (await call(io, options, {
        method: 'PUT',
        path: `/policies/${id}`,
        body,
        ...(tyk ? { contentType: 'application/vnd.tyk.policy+json' } : {}),
        headers: { ...ifMatchHeader(options.ifMatch), ...(options.createOnly ? { 'If-None-Match': '*' } : {}) },
      })) as PolicyJson & { ignoredFields?: string[] };
      print(io, options, policy, (p) =>
        [policyFields(p), ...(p.ignoredFields?.length ? ['', `ignored Tyk fields: ${p.ignoredFields.join(', ')}`] : [])].join('\n'),
      );
    });

  withConnection(policies.command('get'))
    .description('show a policy')
    .argument('<id>', 'policy id', policyId)
    .action(async (id: string, options: ConnectionOptions) => {
      print(io, options, (await call(io, options, { method: 'GET', path: `/policies/${id}` })) as PolicyJson, policyFields);
    });

  withConnection(policies.command('list'))
    .description('list every policy')
    .action(async (options: ConnectionOptions) => {
      const { items } = (await call(io, options, { method: 'GET', path: '/policies' })) as { items: PolicyJson[] };
      print(io, options, { items }, ({ items: rows }) => (rows.length > 0 ? policyTable(rows) : 'no policies'));
    });

  withConnection(policies.command('delete'))
    .description('delete a policy (keys that apply it are then denied: no_matching_policy)')
    .argument('<id>', 'policy id', policyId)
    .addOption(ifMatchOption())
    .action(async (id: string, options: ConnectionOptions & { ifMatch?: number }) => {
      await call(io, options, { method: 'DELETE', path: `/policies/${id}`, headers: ifMatchHeader(options.ifMatch) });
      print(io, options, { deleted: id }, () => `deleted ${id}`);
    });

  return policies;
}

function policyBody(options: PutOptions): Record<string, unknown> {
  const body = limitBody(options);
  if (options.name !== undefined) body.name = options.name;
  if (options.keyExpiresIn !== undefined) body.keyExpiresIn = options.keyExpiresIn;
  return body;
}

function hasFieldOptions(options: PutOptions): boolean {
  const fields: Array<keyof PutOptions> = [
    'quotaMax',
    'quotaRenewalRate',
    'rate',
    'per',
    'accessRightsJson',
    'tag',
    'meta',
    'inactive',
    'active',
    'body',
    'name',
    'keyExpiresIn',
  ];
  return fields.some((field) => options[field] !== undefined);
}

function policyId(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(value)) throw new InvalidArgumentError('must be 1 to 128 letters, digits, _, . or -');
  return value;
}
