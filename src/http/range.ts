import type { BootFile } from '../files/boot-file.js';

export interface RequestHeaders {
  range?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifRange?: string | undefined;
}

export type FilePlan =
  | { status: 200; start: number; end: number }
  | { status: 206; start: number; end: number }
  | { status: 304 }
  | { status: 416 };

/**
 * Decides how to answer a GET/HEAD for a file (RFC 9110 §13 conditionals, §14 ranges).
 * Only single ranges are served; a multi-range request gets the whole file, which §14.2 allows.
 */
export function planFileResponse(h: RequestHeaders, file: Pick<BootFile, 'size' | 'etag' | 'mtime'>): FilePlan {
  const whole = { status: 200 as const, start: 0, end: file.size - 1 };
  if (h.ifNoneMatch !== undefined) {
    const tags = h.ifNoneMatch.split(',').map((s) => s.trim().replace(/^W\//, ''));
    if (tags.includes('*') || tags.includes(file.etag)) return { status: 304 };
  } else if (h.ifModifiedSince !== undefined) {
    const since = Date.parse(h.ifModifiedSince);
    if (!Number.isNaN(since) && Math.floor(file.mtime.getTime() / 1000) * 1000 <= since) return { status: 304 };
  }
  if (h.range === undefined) return whole;
  if (h.ifRange !== undefined) {
    const v = h.ifRange.trim();
    const fresh = v.startsWith('"') ? v === file.etag : Date.parse(v) >= Math.floor(file.mtime.getTime() / 1000) * 1000;
    if (!fresh) return whole;
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.range.trim());
  if (!m) return whole; // other units and multi-range: whole file
  const [a, b] = [m[1]!, m[2]!];
  if (a === '' && b === '') return whole;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return { status: 416 };
    start = Math.max(0, file.size - suffix);
    end = file.size - 1;
  } else {
    start = Number(a);
    end = b === '' ? file.size - 1 : Math.min(Number(b), file.size - 1);
    if (b !== '' && Number(b) < start) return whole; // invalid range-spec: ignore the header (§14.2)
  }
  if (start >= file.size) return { status: 416 };
  return { status: 206, start, end };
}
