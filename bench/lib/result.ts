/** One measured comparison: the same workload against our server and a peer. */
export interface BenchResult {
  bench: string;
  /** What was measured, e.g. "50 MB, atftp blksize 1468". */
  case: string;
  /** "veth" (the link's own round trip) or "tbf 1gbit". */
  link: string;
  peer: string;
  ours: number | null;
  peerValue: number | null;
  unit: string;
  better: 'higher' | 'lower';
  /** Every repeat, so the spread can be judged from the JSON. */
  oursRuns: number[];
  peerRuns: number[];
  note?: string;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** ours / peer, so > 1 means more of the unit; `better` says which way wins. */
export function ratio(r: BenchResult): number | null {
  if (r.ours === null || r.peerValue === null || r.peerValue === 0) return null;
  return r.ours / r.peerValue;
}

/** "+23% better" / "-40% worse" from our point of view, whatever the unit's direction. */
export function verdict(r: BenchResult): string {
  const q = ratio(r);
  if (q === null) return 'n/a';
  const gain = r.better === 'higher' ? q : 1 / q;
  const pct = Math.round((gain - 1) * 100);
  if (Math.abs(pct) < 5) return 'par';
  return pct > 0 ? `ours ${gain.toFixed(2)}x better` : `ours ${(1 / gain).toFixed(2)}x worse`;
}

const fmt = (x: number | null): string => {
  if (x === null) return 'fail';
  if (x >= 1000) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(3);
};

export function formatTable(results: readonly BenchResult[]): string {
  const rows = [['bench', 'case', 'link', 'peer', 'ours', 'peer', 'ratio', 'unit', 'verdict']];
  for (const r of results) {
    const q = ratio(r);
    rows.push([r.bench, r.case, r.link, r.peer, fmt(r.ours), fmt(r.peerValue), q === null ? '-' : q.toFixed(2), `${r.unit} (${r.better} better)`, verdict(r)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row, j) => {
    const line = row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}
