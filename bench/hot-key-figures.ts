/**
 * The figures of the hot-key measurement (`hot-key.ts`): from what the runs observed, the
 * ratios, shares, latencies, request counts and prices the report shows, with their targets.
 */
import type { DecisionRecord } from '../lambdas/core/observability/decision-record.ts';
import { dollarsPerMillion, ON_DEMAND_PRICE } from './lib/capacity.ts';
import type { Figure } from './lib/figures.ts';
import type { HttpLoad } from './lib/load.ts';

const HOT_KEY_GROUP = 'Hot key (one key past the per-item ceiling, simulated)';

/** What a gateway decided, and what DynamoDB billed, while `run` ran. */
export interface Observed<T> {
  readonly result: T;
  readonly records: readonly DecisionRecord[];
  readonly units: { read: number; write: number };
}

/**
 * DynamoDB requests (SDK attempts, throttled ones included) per decision, and billed units
 * and their price per allowed request (what serving the key costs; a 500 or a denial is
 * paid for by the requests that were allowed).
 */
function costs(run: Observed<unknown>) {
  const n = Math.max(1, run.records.length);
  const allowed = Math.max(1, run.records.filter((r) => r.outcome === 'allow').length);
  const sum = (pick: (r: DecisionRecord) => number) => run.records.reduce((total, r) => total + pick(r), 0) / n;
  const units = { read: run.units.read / allowed, write: run.units.write / allowed };
  return {
    decisions: run.records.length,
    allowed,
    requests: sum((r) => r.dynamodbRequests),
    throttles: sum((r) => r.throttles),
    units,
    dollarsPerMillion: dollarsPerMillion(units),
  };
}

export interface Runs {
  readonly W: number;
  readonly connections: number;
  readonly seconds: number;
  readonly quota: number;
  readonly unthrottled: Observed<HttpLoad>;
  readonly cold: Observed<number>;
  readonly hotRun: Observed<HttpLoad>;
  readonly quotaRun: Observed<HttpLoad>;
}

export function figures(runs: Runs): Figure[] {
  const { W, connections, seconds, quota } = runs;
  const free = runs.unthrottled.result;
  const hot = runs.hotRun.result;
  const quotaLoad = runs.quotaRun.result;
  const allowedPerSecond = (load: HttpLoad) => load.status['2xx'] / load.seconds;
  const share500 = (load: HttpLoad) => (100 * load.status['5xx']) / Math.max(1, load.total);
  const cold = costs(runs.cold);
  const hotCost = costs(runs.hotRun);
  const denied = runs.quotaRun.records.filter((r) => r.outcome === 'deny');
  const floodRequests = denied.reduce((sum, r) => sum + r.dynamodbRequests, 0) / Math.max(1, denied.length);
  const unitsText = (c: ReturnType<typeof costs>) =>
    `${fmt(c.units.write)} write + ${fmt(c.units.read)} read units per allowed request (as DynamoDB Local reports them: by item size)`;
  const setup = `${connections} connections, ${seconds} s, W = ${W} write units/s per item (reads 3 W)`;
  const floorRatio = (0.6 * allowedPerSecond(free)) / W;
  const base = { group: HOT_KEY_GROUP };
  return [
    {
      ...base,
      id: 'hotKey.unthrottled.allowed',
      label: 'Same setup without the ceiling: allowed per second',
      value: allowedPerSecond(free),
      unit: 'req/s',
      note: `p99 ${free.latency.p99} ms; ${free.total} answers, ${free.status['5xx']} answered 500. What this machine's gateway path can do on one key at all.`,
    },
    {
      ...base,
      id: 'hotKey.allowedPerW',
      label: 'Hot key: allowed per second ÷ W',
      short: 'Hot key: allowed/s ÷ W',
      value: allowedPerSecond(hot) / W,
      unit: '×',
      target: { kind: 'min', value: Math.min(8, floorRatio) },
      note: `${fmt(allowedPerSecond(hot))} allowed/s; ${setup}. Target: 8 × W, or 0.6 of the run without the ceiling (${fmt(floorRatio)} × W) where the machine caps lower.`,
    },
    {
      ...base,
      id: 'hotKey.share500',
      label: 'Hot key: answered 500',
      short: 'Hot key: share of 500s',
      value: share500(hot),
      unit: '%',
      target: { kind: 'max', value: 0.5 },
      note: `${hot.status['5xx']} of ${hot.total} answers; ${fmt(hotCost.throttles)} throttled DynamoDB requests per decision.`,
    },
    {
      ...base,
      id: 'hotKey.p99',
      label: 'Hot key: p99 latency',
      value: hot.latency.p99,
      unit: 'ms',
      target: { kind: 'max', value: 2 * free.latency.p99 + 100 },
      note: `p50 ${hot.latency.p50} ms, max ${hot.latency.max} ms. Target: 2 × the p99 without the ceiling (${free.latency.p99} ms) + 100 ms.`,
    },
    {
      ...base,
      id: 'hotKey.quota.allowed',
      label: `Hot key with quota ${quota}, driven past it: allowed in all`,
      short: `Hot key, quota ${quota}: allowed`,
      value: quotaLoad.status['2xx'],
      unit: 'req',
      target: { kind: 'max', value: quota },
      note: `Never above the quota; ${quota - quotaLoad.status['2xx']} short of it. ${quotaLoad.total} answers: ${quotaLoad.status['4xx']} denied, ${quotaLoad.status['5xx']} answered 500 (${fmt(share500(quotaLoad))} %).`,
    },
    {
      ...base,
      id: 'hotKey.quota.floodRequests',
      label: 'Exhausted hot key: DynamoDB requests per denied request',
      short: 'Exhausted key: requests per denial',
      value: floodRequests,
      unit: '',
      note:
        denied.length === 0
          ? 'No request of the quota run was denied: the quota was never reached (see the row above), so there is no flood to measure.'
          : `Over ${denied.length} denials of the quota run (throttled attempts included): what a flood on a used-up key costs.`,
    },
    {
      ...base,
      id: 'hotKey.requests.cold',
      label: 'Cold key: DynamoDB requests per decision',
      short: 'Cold key: requests per decision',
      value: cold.requests,
      unit: '',
      target: { kind: 'max', value: 1 },
      note: `${cold.decisions} decisions at W / 2 a second, one at a time, after one to settle.`,
    },
    {
      ...base,
      id: 'hotKey.requests.hot',
      label: 'Hot key: DynamoDB requests per decision',
      short: 'Hot key: requests per decision',
      value: hotCost.requests,
      unit: '',
      note: `${hotCost.decisions} decisions, throttled attempts included (${fmt(hotCost.throttles)} per decision).`,
    },
    {
      ...base,
      id: 'hotKey.cost.cold',
      label: 'Cold key: DynamoDB cost per million allowed requests',
      short: 'Cold key: $ per million',
      value: cold.dollarsPerMillion,
      unit: '$',
      note: `${unitsText(cold)}. ${priceNote}`,
    },
    {
      ...base,
      id: 'hotKey.cost.hot',
      label: 'Hot key: DynamoDB cost per million allowed requests',
      short: 'Hot key: $ per million',
      value: hotCost.dollarsPerMillion,
      unit: '$',
      note: `${unitsText(hotCost)}; throttled attempts are not billed, failed conditions are. ${priceNote}`,
    },
  ];
}

const priceNote = `At $${ON_DEMAND_PRICE.writePerMillionUnits} per million write units and $${ON_DEMAND_PRICE.readPerMillionUnits} per million read units: ${ON_DEMAND_PRICE.source}.`;

function fmt(n: number): string {
  return n >= 10 ? n.toFixed(0) : n.toFixed(2);
}
