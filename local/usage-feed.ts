import { randomUUID } from 'node:crypto';
import type { DecisionRecord } from '../lambdas/core/observability/decision-record.ts';
import { usageDecisionOf, type UsageDecision } from '../lambdas/core/usage/decision-line.ts';
import { tally } from '../lambdas/core/usage/tally.ts';
import type { UsageWriter } from '../lambdas/core/usage/usage-writer.ts';

interface Pending {
  readonly decision: UsageDecision;
  readonly id: string;
  readonly done: () => void;
}

/**
 * The usage aggregator, in process, for `gatepass dev`: each decision the authorizer
 * reports is counted by the same code as the deployed aggregator (`tally`, `UsageWriter`)
 * on the same table, so the local admin API answers `GET /keys/{keyId}/usage` as the
 * deployed one does. Decisions reported while a write is under way go into the next one (one
 * transaction for many requests): the process never races itself for a usage item.
 * {@link record} resolves once the decision is written, so a request's usage is counted
 * before the gateway answers it. A failed write is logged; it never changes an answer.
 */
export class LocalUsageFeed {
  readonly #writer: UsageWriter;
  readonly #log: (entry: object) => void;
  #pending: Pending[] = [];
  #writing: Promise<void> | undefined;

  constructor(writer: UsageWriter, log: (entry: object) => void) {
    this.#writer = writer;
    this.#log = log;
  }

  /** Counts one request's record (a fault, or a request with no key, counts nothing). */
  record(record: DecisionRecord): Promise<void> {
    const decision = usageDecisionOf(record);
    if (decision === undefined) return Promise.resolve();
    return new Promise((done) => {
      this.#pending.push({ decision, id: randomUUID(), done });
      this.#writing ??= this.#drain();
    });
  }

  /** Resolves once every decision recorded so far is written. */
  async idle(): Promise<void> {
    await this.#writing;
  }

  async #drain(): Promise<void> {
    await null; // decisions reported in the same turn join this write
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#writer.write(
          tally(batch.map((p) => p.decision)),
          batch.map((p) => p.id),
        );
      } catch (error) {
        this.#log({
          level: 'error',
          msg: 'usage not counted',
          decisions: batch.length,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      for (const p of batch) p.done();
    }
    this.#writing = undefined;
  }
}
