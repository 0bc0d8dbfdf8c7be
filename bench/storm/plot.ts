/** One line of the storm plot: seconds until the last node booted, by node count. */
export interface PlotSeries {
  label: string;
  points: Array<{ nodes: number; seconds: number }>;
  dashed?: boolean;
  /** Series of one group share a colour (e.g. both stacks on one link); default: their index. */
  group?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A plain SVG line chart, nodes on a log axis, seconds on a log axis (the storms span decades). */
export function stormSvg(title: string, series: readonly PlotSeries[]): string {
  const W = 720, H = 440, L = 70, R = 250, T = 40, B = 50;
  const pts = series.flatMap((s) => s.points).filter((p) => p.seconds > 0);
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="80"><text x="10" y="40">${esc(title)}: no data</text></svg>\n`;
  const lx = (n: number) => Math.log10(n);
  const [x0, x1] = [Math.floor(lx(Math.min(...pts.map((p) => p.nodes)))), Math.ceil(lx(Math.max(...pts.map((p) => p.nodes))) + 1e-9)];
  const [y0, y1] = [Math.floor(lx(Math.min(...pts.map((p) => p.seconds)))), Math.ceil(lx(Math.max(...pts.map((p) => p.seconds))) + 1e-9)];
  const X = (n: number) => L + ((lx(n) - x0) / Math.max(1, x1 - x0)) * (W - L - R);
  const Y = (s: number) => H - B - ((lx(s) - y0) / Math.max(1, y1 - y0)) * (H - T - B);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="${L}" y="22" font-size="14">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`];
  for (let e = x0; e <= x1; e++) out.push(`<line x1="${X(10 ** e)}" y1="${H - B}" x2="${X(10 ** e)}" y2="${H - B + 5}" stroke="#000"/><text x="${X(10 ** e)}" y="${H - B + 18}" text-anchor="middle">${10 ** e}</text>`);
  for (let e = y0; e <= y1; e++) out.push(`<line x1="${L - 5}" y1="${Y(10 ** e)}" x2="${W - R}" y2="${Y(10 ** e)}" stroke="#ddd"/><text x="${L - 8}" y="${Y(10 ** e) + 4}" text-anchor="end">${10 ** e} s</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">nodes booting at once</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">seconds until the last node is booted</text>`);
  series.forEach((s, i) => {
    const c = COLORS[(s.group ?? i) % COLORS.length]!;
    const ps = s.points.filter((p) => p.seconds > 0).sort((a, b) => a.nodes - b.nodes);
    if (ps.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${ps.map((p) => `${X(p.nodes).toFixed(1)},${Y(p.seconds).toFixed(1)}`).join(' ')}"/>`);
    for (const p of ps) out.push(`<circle cx="${X(p.nodes).toFixed(1)}" cy="${Y(p.seconds).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.label}: ${p.nodes} nodes, ${p.seconds.toFixed(1)} s`)}</title></circle>`);
    out.push(`<line x1="${W - R + 15}" y1="${T + 10 + i * 20}" x2="${W - R + 40}" y2="${T + 10 + i * 20}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${W - R + 46}" y="${T + 14 + i * 20}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
