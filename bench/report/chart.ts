/**
 * A small hand-written SVG for docs/BENCHMARKS.md: every figure with a target as a share
 * of its target (100 % = on target; a bar past the line missed it), and the throughput
 * figures side by side.
 */
import { formatNumber, meets, valueText, type Figure } from '../lib/figures.ts';

const WIDTH = 760;
const LABEL_WIDTH = 330;
const BAR_WIDTH = 300;
const ROW = 22;
const CAP = 4; // bars are drawn up to 400 % of the target
const GREEN = '#2e7d32';
const RED = '#c62828';
const BLUE = '#1565c0';
const GREY = '#555';

export function renderChart(figures: readonly Figure[]): string {
  const targeted = figures.filter((f) => f.target !== undefined);
  const throughput = figures.filter((f) => f.unit === 'req/s' || f.unit === 'ops/s');
  const parts: string[] = [];
  let y = 28;

  parts.push(text(12, y - 8, 'Share of target used (100 % = the target; right of the dashed line = missed)', { weight: 'bold' }));
  const scale = BAR_WIDTH / CAP;
  const x0 = LABEL_WIDTH;
  for (const figure of targeted) {
    const share = shareOfTarget(figure);
    const ok = meets(figure) === true;
    const width = Math.max(1, Math.min(CAP, share) * scale);
    parts.push(text(x0 - 8, y + 15, figure.short ?? figure.label, { anchor: 'end' }));
    parts.push(`<rect x="${x0}" y="${y + 4}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${ok ? GREEN : RED}"/>`);
    const capped = share > CAP ? ' ▶' : '';
    parts.push(text(x0 + width + 6, y + 15, `${valueText(figure)} (${Math.round(share * 100)} %)${capped}`, { fill: GREY }));
    y += ROW;
  }
  const lineX = x0 + scale;
  parts.push(`<line x1="${lineX}" y1="${28}" x2="${lineX}" y2="${y + 2}" stroke="#000" stroke-dasharray="4 3"/>`);
  parts.push(text(lineX, y + 16, '100 %', { anchor: 'middle', fill: GREY }));
  y += 40;

  if (throughput.length > 0) {
    parts.push(text(12, y, 'Throughput, same run and concurrency', { weight: 'bold' }));
    y += 8;
    const max = Math.max(...throughput.map((f) => f.value));
    for (const figure of throughput) {
      const width = Math.max(1, (figure.value / max) * BAR_WIDTH);
      parts.push(text(x0 - 8, y + 15, figure.short ?? figure.label, { anchor: 'end' }));
      parts.push(`<rect x="${x0}" y="${y + 4}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${BLUE}"/>`);
      parts.push(text(x0 + width + 6, y + 15, `${formatNumber(figure.value)} ${figure.unit}`, { fill: GREY }));
      y += ROW;
    }
  }
  const height = y + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** value ÷ target for a maximum, target ÷ value for a minimum: ≤ 1 means met either way. */
export function shareOfTarget(figure: Figure): number {
  const target = figure.target!;
  if (target.kind === 'max') return target.value === 0 ? Number.POSITIVE_INFINITY : figure.value / target.value;
  return figure.value === 0 ? Number.POSITIVE_INFINITY : target.value / figure.value;
}

function text(
  x: number,
  y: number,
  content: string,
  options: { anchor?: 'start' | 'middle' | 'end'; fill?: string; weight?: 'bold' } = {},
): string {
  const attrs = [`x="${x.toFixed(1)}"`, `y="${y}"`];
  if (options.anchor && options.anchor !== 'start') attrs.push(`text-anchor="${options.anchor}"`);
  if (options.fill) attrs.push(`fill="${options.fill}"`);
  if (options.weight) attrs.push(`font-weight="${options.weight}"`);
  return `<text ${attrs.join(' ')}>${escapeXml(content)}</text>`;
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
