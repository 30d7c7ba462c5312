/**
 * Bugs the history checker can be run against on purpose (`GATEPASS_INJECT=<name>`), to
 * measure what it detects. Each is injected from outside the code under test — through
 * its public seams (plugins, the policy cache setting, the clock, the DynamoDB client) —
 * so the list stays valid when the counting core changes inside.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GatepassPlugin } from '../../../lambdas/core/plugins/plugin.ts';
import { HOOK_HEADER } from './hooks.ts';
import { isFirstAttempt, lostAnswerError } from './lost-answers.ts';

export interface InjectedBug {
  readonly name: string;
  readonly what: string;
  /** Plugins every instance runs besides its own. */
  readonly plugins?: readonly GatepassPlugin[];
  /** Seconds every instance's policy cache keeps a policy beyond what the model is told. */
  readonly extraPolicyCacheSeconds?: number;
  /** Ms instance `index`'s clock runs ahead beyond its stated offset. */
  readonly clockDriftMs?: (index: number, elapsedMs: number) => number;
  /** Installed on every instance's DynamoDB client. */
  readonly installOn?: (client: DynamoDBClient) => void;
}

export const INJECTED_BUGS: readonly InjectedBug[] = [
  {
    name: 'quota-given-back',
    what: 'a hook that writes limits also gives the whole quota back (quotaRemaining = quotaMax)',
    plugins: [
      {
        name: 'gives-quota-back',
        async postAuth(ctx) {
          if (ctx.request.headers[HOOK_HEADER] === undefined || ctx.session.quotaMax < 0) return;
          if (ctx.session.quotaRemaining === ctx.session.quotaMax) return;
          await ctx.updateSession({ quotaRemaining: ctx.session.quotaMax });
        },
      },
    ],
  },
  {
    name: 'stale-policy-cache',
    what: 'instances keep a policy 30 s longer than policyCacheSeconds',
    extraPolicyCacheSeconds: 30,
  },
  {
    name: 'clock-drift',
    what: "instance 0's clock runs 3 s ahead of its stated offset",
    clockDriftMs: (index) => (index === 0 ? 3000 : 0),
  },
  {
    name: 'hidden-lost-answers',
    what: 'every 5th counting write of an instance loses its answer and is re-sent, and the model is not told',
    installOn: (client) => {
      let writes = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (String(context.commandName) === 'UpdateItemCommand' && isFirstAttempt(args.request) && ++writes % 5 === 0) {
            throw lostAnswerError();
          }
          return result;
        },
        { step: 'deserialize', name: 'historyHiddenLostAnswers', priority: 'low', override: true },
      );
    },
  },
];

/** The bug `GATEPASS_INJECT` names, if any. */
export function injectedBug(name: string | undefined): InjectedBug | undefined {
  if (name === undefined || name === '') return undefined;
  const bug = INJECTED_BUGS.find((b) => b.name === name);
  if (bug === undefined) throw new Error(`GATEPASS_INJECT must be one of ${INJECTED_BUGS.map((b) => b.name).join(', ')}; got ${name}`);
  return bug;
}
