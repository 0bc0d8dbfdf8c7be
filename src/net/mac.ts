/** MAC addresses are kept as lower-case, colon-separated strings: "52:54:00:12:34:56". */
export function normalizeMac(s: string): string | undefined {
  const hex = s.trim().toLowerCase().replace(/^01-(?=([0-9a-f]{2}-){5}[0-9a-f]{2}$)/, '');
  const m = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/.exec(hex);
  return m ? m.slice(1).join(':') : undefined;
}

/** "52-54-00-12-34-56": the form pxelinux and iPXE's ${mac:hexhyp} use in file names. */
export function macToHyphens(mac: string): string {
  return mac.replaceAll(':', '-');
}
