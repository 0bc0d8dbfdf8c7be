/** Text for people: durations, "ago", sizes. Pure, shared by the page and its tests. */

/** 812 ms, 1.5 s, 12 s, 2 min 5 s, 1 h 3 min. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${trim(ms / 1000, 1)} s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} min${totalS % 60 ? ` ${totalS % 60} s` : ''}`;
  const totalMin = Math.floor(totalS / 60);
  return `${Math.floor(totalMin / 60)} h${totalMin % 60 ? ` ${totalMin % 60} min` : ''}`;
}

/** How long ago `time` was at `now`; a time a little in the future (clock skew) is "just now". */
export function formatAgo(time: number, now: number): string {
  const s = Math.floor((now - time) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${trim(n, n < 10 ? 1 : 0)} ${units[i]}`;
}

/** Version ids are 16 hex digits; 8 tell them apart on screen (the full one is in the title). */
export function shortVersion(version: string): string {
  return /^[0-9a-f]{16}$/.test(version) ? version.slice(0, 8) : version;
}

function trim(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}
