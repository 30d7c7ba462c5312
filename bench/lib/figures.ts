/**
 * A measured figure and the target it is held against. Every measurement module returns
 * figures; `run.ts` collects them into `bench/results.json`, the table, the chart and
 * `docs/BENCHMARKS.md`.
 */

/** `max`: the value must stay at or under `value`; `min`: at or over it. */
export interface Target {
  readonly kind: 'max' | 'min';
  readonly value: number;
}

export interface Figure {
  /** Stable id, e.g. `requests.apiKey.limited`. */
  readonly id: string;
  /** Group heading in the table and the doc. */
  readonly group: string;
  readonly label: string;
  /** Shorter label for the chart. @default label */
  readonly short?: string;
  readonly value: number;
  readonly unit: string;
  /** `undefined` = informative only, no target. */
  readonly target?: Target;
  /** One line on what the figure means, or why it misses. */
  readonly note?: string;
}

/** Whether a figure meets its target; `undefined` when it has none. */
export function meets(figure: Figure): boolean | undefined {
  if (figure.target === undefined) return undefined;
  return figure.target.kind === 'max' ? figure.value <= figure.target.value : figure.value >= figure.target.value;
}

/** `≤ 0.3 ms`, `≥ 0.7`. */
export function targetText(figure: Figure): string {
  if (figure.target === undefined) return '—';
  const sign = figure.target.kind === 'max' ? '≤' : '≥';
  return `${sign} ${formatNumber(figure.target.value)}${figure.unit ? ` ${figure.unit}` : ''}`;
}

export function valueText(figure: Figure): string {
  return `${formatNumber(figure.value)}${figure.unit ? ` ${figure.unit}` : ''}`;
}

export function verdictText(figure: Figure): string {
  const met = meets(figure);
  return met === undefined ? '' : met ? 'met' : 'MISSED';
}

/** Three significant digits, no exponent, thousands kept readable. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1).replace(/\.0$/, '');
  if (abs >= 1) return value.toFixed(2).replace(/\.?0+$/, '');
  if (abs === 0) return '0';
  return value.toPrecision(2);
}

/** The p-th percentile (0–100) of `samples`, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}
