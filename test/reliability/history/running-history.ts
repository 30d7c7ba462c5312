/**
 * One history as it runs (harness.ts): the shared clock, the key as it is now, the model,
 * the instances and the admin, and what goes into its report — the trace, the counts, the
 * counter items last seen. Its methods are what the operations share: a batch of
 * authorizations checked by the model, the reads of the counter items, the trace's time
 * stamps, and the history's result.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KeyService } from '../../../lambdas/admin/key-service.ts';
import { jwtSessionPk } from '../../../lambdas/core/request/identify.ts';
import type { Pipeline } from '../../../lambdas/core/request/pipeline.ts';
import type { AdminDriver, AdminResult } from './admin-driver.ts';
import { describeOp } from './describe.ts';
import { countBatch, type HistoryRun, headline } from './history-report.ts';
import { type LeaseView, NOT_SPREAD, readLeases } from './hot-keys.ts';
import type { LostAnswers } from './lost-answers.ts';
import type { HistoryModel } from './model.ts';
import type { BatchObservation, BatchRequest, Outcome, Verdict, Who } from './observation.ts';
import { authorize, request } from './requests.ts';
import { ROUTES } from './routes.ts';
import { BASE_MS, type HistorySetup, type Rig, type SharedClock } from './setup.ts';
import type { HistorySpec, Op, RequestSpec } from './spec.ts';
import { emptyStats, type HistoryStats } from './stats.ts';

/** A history between its set-up and its result. */
export class RunningHistory {
  readonly tableName: string;
  readonly lost: LostAnswers;
  readonly adminDoc: DynamoDBDocumentClient;
  readonly keys: KeyService;
  readonly admin: AdminDriver;
  readonly model: HistoryModel;
  readonly pipelines: readonly Pipeline[];
  /** The key as it is now (a re-creation makes it again). */
  key: { key: string; keyId: string };
  /** The partition of the JWT identity's session. */
  readonly jwtPk: string;
  readonly trace: string[];
  readonly stats: HistoryStats;
  /** Counter items each subject was last seen spread over. */
  readonly shards: Record<Who, number> = { key: 0, jwt: 0 };
  /** Most counter items a key of the history was seen spread over. */
  mostCounterItems = 0;
  readonly #token: string;
  readonly #lostAtStart: number;
  readonly #sentAtStart: number;

  constructor(
    readonly spec: HistorySpec,
    readonly rig: Rig,
    serial: number,
    readonly clock: SharedClock,
    setup: HistorySetup,
  ) {
    this.tableName = rig.tableName;
    this.lost = rig.lost;
    this.adminDoc = setup.adminDoc;
    this.keys = setup.keys;
    this.admin = setup.admin;
    this.model = setup.model;
    this.pipelines = setup.pipelines;
    this.key = setup.key;
    this.#token = setup.token;
    this.trace = [headline(spec, serial)];
    this.stats = {
      ...emptyStats(),
      twoPolicyKeys: spec.key.policies.length > 1 ? 1 : 0,
      hotHistories: spec.hot === undefined ? 0 : 1,
    };
    this.jwtPk = jwtSessionPk('', `${this.admin.prefix}-user`).pk;
    this.#lostAtStart = this.lost.injected;
    this.#sentAtStart = this.lost.sent;
  }

  /** The shared clock, ms. */
  get now(): number {
    return this.clock.now;
  }

  set now(ms: number) {
    this.clock.now = ms;
  }

  /** An operation's number in the trace, with the shared clock's time since the start. */
  time(number: string): string {
    return `${number} t+${((this.now - BASE_MS) / 1000).toFixed(3)}s`;
  }

  /** An operation as the trace prints it. */
  describe(op: Op): string {
    return describeOp(op, this.spec.instances.length);
  }

  /** The history's result (`violation`: what ended it); disarms the lost-answer fault. */
  finish(violation?: HistoryRun['violation']): HistoryRun {
    this.lost.disarm();
    this.stats.scopedAllows = this.model.scopedAllows;
    this.stats.spreadHistories = this.mostCounterItems > 0 ? 1 : 0;
    const requests = this.lost.sent - this.#sentAtStart;
    return {
      violation,
      trace: this.trace,
      ...this.stats,
      lostAnswers: this.lost.injected - this.#lostAtStart,
      requests,
      mostCounterItems: this.mostCounterItems,
    };
  }

  /**
   * A batch of concurrent authorizations (and an admin write alongside, if any), checked by
   * the model: its violations, and the admin write's result.
   */
  async batch(
    specs: readonly RequestSpec[],
    adminRun: (() => Promise<AdminResult>) | undefined,
    settle: (r: AdminResult | undefined) => Promise<string[]>,
    kind?: 'settings' | 'reset' | 'policy',
  ): Promise<readonly [Verdict, AdminResult | undefined]> {
    const before = await this.leasesAround();
    const lostBefore = this.lost.injected;
    const requests = specs.map((r) => this.batchRequest(r));
    const decisions = Promise.all(requests.map((r) => authorize(this.pipelines[r.instance]!, request(r, this.authorization(r)))));
    const [outcomes, result] = await Promise.all([decisions, adminRun?.()]);
    const problems = await settle(result);
    const verdict = await this.observe(requests, outcomes, before, this.lost.injected - lostBefore, {
      alongside: kind && result ? { kind, ok: result.ok } : undefined,
      written: adminRun !== undefined,
    });
    return [{ ...verdict, violations: [...problems, ...verdict.violations] }, result] as const;
  }

  /** The model's verdict on `requests` and their outcomes (`before`: the leases read before them), counted into the stats. */
  async observe(
    requests: readonly BatchRequest[],
    outcomes: readonly Outcome[],
    before: Record<Who, LeaseView> | undefined,
    lostAnswers: number,
    extra: { alongside?: BatchObservation['alongside']; written?: boolean; held?: BatchObservation['held'] },
  ): Promise<Verdict> {
    const leases =
      before === undefined
        ? undefined
        : {
            key: { before: before.key, after: await this.leasesOf('key') },
            jwt: { before: before.jwt, after: await this.leasesOf('jwt') },
          };
    const verdict = this.model.batch({
      at: this.now,
      requests,
      outcomes,
      lost: lostAnswers,
      alongside: extra.alongside,
      settingsAfter:
        extra.written || this.model.mayWrite(requests, this.now) ? await this.admin.readSettings(this.key.keyId) : this.model.settings,
      leases,
      ...(extra.held ? { held: extra.held } : {}),
    });
    countBatch(this.stats, this.spec, requests, outcomes, verdict.clean);
    return verdict;
  }

  /** A request of the spec as sent: on one of the history's instances, to its route. */
  batchRequest(r: RequestSpec): BatchRequest {
    return { instance: r.instance % this.spec.instances.length, route: ROUTES[r.route]!, who: r.who, ...(r.hook ? { hook: r.hook } : {}) };
  }

  /** The `authorization` header of a request: the raw key, or the JWT identity's bearer token. */
  authorization(r: BatchRequest): string {
    return r.who === 'jwt' ? `Bearer ${this.#token}` : this.key.key;
  }

  /** Both subjects' counter items now, in hot histories. */
  async leasesAround(): Promise<Record<Who, LeaseView> | undefined> {
    return this.spec.hot === undefined ? undefined : { key: await this.leasesOf('key'), jwt: await this.leasesOf('jwt') };
  }

  /** A subject's counter items as they are now (none outside hot histories), counted into the stats. */
  async leasesOf(who: Who): Promise<LeaseView> {
    if (this.spec.hot === undefined) return NOT_SPREAD;
    const view = await readLeases(this.adminDoc, this.tableName, who === 'key' ? `key#${this.key.keyId}` : this.jwtPk);
    const last = this.shards[who];
    if (last === 0 && view.shards > 0) this.stats.spreads += 1;
    else if (view.shards > last) this.stats.growths += 1;
    else if (view.shards < last) {
      this.stats.shrinks += 1;
      // A cooling gave unspent leases back: an instance that saw the session item without room moments ago may deny for a second.
      this.model.stale.changed(who, this.now);
    }
    this.shards[who] = view.shards;
    this.mostCounterItems = Math.max(this.mostCounterItems, view.shards);
    return view;
  }
}
