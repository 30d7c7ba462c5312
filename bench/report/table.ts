/** The figures as a plain-text table for the terminal. */
import { targetText, valueText, verdictText, type Figure } from '../lib/figures.ts';

export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.label, valueText(f), targetText(f), verdictText(f)]);
  const header = ['figure', 'measured', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  let group: string | undefined;
  out.push(line(header));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  figures.forEach((figure, i) => {
    if (figure.group !== group) {
      group = figure.group;
      out.push(`${group}:`);
    }
    out.push(line(rows[i]!));
  });
  return out.join('\n');
}
