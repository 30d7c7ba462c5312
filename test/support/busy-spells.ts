import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { requestWith } from './pipeline.ts';
import { type ThrottleKind, throttle } from './throttles.ts';

/** A busy spell on one key: armed by `arm()`, it throttles what its rule names for `ms` from then. */
export interface BusySpell {
  /** The key's session item pk (`key#…`), set once the key exists. */
  pk: string;
  /** When the spell was armed (performance.now()), 0 when not armed. */
  armedAt: number;
  /** Attempts throttled, and when the last one was (ms after arming). */
  throttled: number;
  last: number;
  arm(): void;
  /** Disarms the spell and answers the ms since it was armed. */
  disarm(): number;
}

/**
 * Throttles, for `ms` after `arm()`, the attempts `rule(command, p, pk)` names (`p`: the
 * attempt's `Key.pk`, '' for a transaction; `pk`: the spell's key), below the SDK's retries.
 */
export function throttleSpell(
  client: DynamoDBClient,
  ms: number,
  rule: (command: string, p: string, pk: string) => ThrottleKind | undefined,
): BusySpell {
  const spell: BusySpell = {
    pk: '',
    armedAt: 0,
    throttled: 0,
    last: 0,
    arm() {
      spell.armedAt = performance.now();
    },
    disarm() {
      const elapsed = Math.round(performance.now() - spell.armedAt);
      spell.armedAt = 0;
      return elapsed;
    },
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
      const kind = spell.armedAt > 0 ? rule(command, p, spell.pk) : undefined;
      if (kind !== undefined && performance.now() - spell.armedAt < ms) {
        spell.throttled++;
        spell.last = performance.now() - spell.armedAt;
        throw throttle(kind);
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'busySpell' },
  );
  return spell;
}

/** Whether an attempt is one of a key's counting writes: a transaction or an UpdateItem of its counter items. */
export function counting(command: string, p: string, pk: string): boolean {
  return command === 'TransactWriteItemsCommand' || (command === 'UpdateItemCommand' && p.startsWith(`${pk}#c`));
}

/** Authorizes one request for `key`: 'allow', the deny reason, or `500 <error name or message>`. */
export function answerOf(pipeline: Pipeline, key: string, error: 'name' | 'message' = 'name'): Promise<string> {
  return pipeline.authorize(requestWith(key)).then(
    (d) => (d.allow ? 'allow' : d.reason),
    (e: Error) => `500 ${e[error]}`,
  );
}
