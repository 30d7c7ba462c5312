import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, type KeyUsage, type UsageDay } from '../api.ts';
import { deniedTotal } from '../format.ts';
import { useLoad } from './load.ts';
import { Show } from './ui.ts';

const DAY_CHOICES = [7, 14, 30, 90] as const;
/** Colours with at least 3:1 contrast on white, told apart by the legend and the table too. */
const ALLOWED_COLOUR = '#1a7f37';
const DENIED_COLOURS = ['#cf222e', '#9a6700', '#8250df', '#0969da', '#bc4c00', '#6e7781'];

/** A key's requests per UTC day — allowed, and denied by reason — as a chart and as a table. */
export function UsagePanel(props: { keyId: string }) {
  const [days, setDays] = useState<number>(14);
  const [loaded, reload] = useLoad(() => api<KeyUsage>(`/keys/${props.keyId}/usage`, { query: { days } }), [props.keyId, days]);
  return html`<div class="usage-controls">
      <label for="usage-days">Days</label>
      <select id="usage-days" value=${days} onChange=${(event: Event) => setDays(Number((event.currentTarget as HTMLSelectElement).value))}>
        ${DAY_CHOICES.map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
      <button type="button" onClick=${reload}>Refresh</button>
    </div>
    <${Show} loaded=${loaded} render=${(usage: KeyUsage) => html`<${UsageChart} usage=${usage} />`} />`;
}

function UsageChart(props: { usage: KeyUsage }) {
  const days = [...props.usage.days].reverse(); // oldest first, left to right
  const reasons = [...new Set(days.flatMap((day) => Object.keys(day.denied)))].sort();
  const colour = (reason: string) => DENIED_COLOURS[reasons.indexOf(reason) % DENIED_COLOURS.length];
  const max = Math.max(1, ...days.map((day) => day.allowed + deniedTotal(day.denied)));
  const [width, height, left, bottom] = [640, 180, 40, 20];
  const slot = (width - left) / days.length;
  const bar = Math.max(2, slot * 0.7);
  const y = (n: number) => ((height - bottom) * n) / max;
  const totalDenied = deniedTotal(props.usage.totals.denied);
  const summary = `${props.usage.totals.allowed} allowed and ${totalDenied} denied over ${days.length} days`;
  return html`<figure class="usage">
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`Requests per day: ${summary}`}>
      <line x1=${left} y1=${height - bottom} x2=${width} y2=${height - bottom} class="axis" />
      <text x=${left - 6} y=${12} class="tick" text-anchor="end">${max}</text>
      <text x=${left - 6} y=${height - bottom} class="tick" text-anchor="end">0</text>
      ${days.map((day, i) => {
        const x = left + i * slot + (slot - bar) / 2;
        let top = height - bottom;
        const segment = (n: number, fill: string, label: string) => {
          if (n === 0) return null;
          top -= y(n);
          return html`<rect x=${x} y=${top} width=${bar} height=${y(n)} fill=${fill}><title>${day.day}: ${n} ${label}</title></rect>`;
        };
        return html`<g>
          ${segment(day.allowed, ALLOWED_COLOUR, 'allowed')}
          ${reasons.map((reason) => segment(day.denied[reason] ?? 0, colour(reason)!, `denied (${reason})`))}
          ${
            i % Math.ceil(days.length / 7) === 0 || i === days.length - 1
              ? html`<text x=${x + bar / 2} y=${height - 5} class="tick" text-anchor="middle">${day.day.slice(5)}</text>`
              : null
          }
        </g>`;
      })}
    </svg>
    <figcaption>
      <ul class="legend">
        <li><span class="swatch" style=${{ background: ALLOWED_COLOUR }}></span>allowed</li>
        ${reasons.map((reason) => html`<li><span class="swatch" style=${{ background: colour(reason) }}></span>denied: ${reason}</li>`)}
      </ul>
      <p>${summary}.</p>
    </figcaption>
  </figure>
  <${UsageTable} days=${props.usage.days} reasons=${reasons} />`;
}

/** The same numbers, newest day first, for reading and for screen readers. */
function UsageTable(props: { days: readonly UsageDay[]; reasons: readonly string[] }) {
  return html`<table class="usage-table">
    <caption>Requests per UTC day (today, and the days with requests)</caption>
    <thead><tr><th scope="col">Day</th><th scope="col">Allowed</th>
      ${props.reasons.map((reason) => html`<th scope="col">Denied: ${reason}</th>`)}</tr></thead>
    <tbody>${props.days
      .filter((day, i) => i === 0 || day.allowed + deniedTotal(day.denied) > 0)
      .map(
        (day) =>
          html`<tr><th scope="row">${day.day}</th><td>${day.allowed}</td>${props.reasons.map((reason) => html`<td>${day.denied[reason] ?? 0}</td>`)}</tr>`,
      )}</tbody>
  </table>`;
}
