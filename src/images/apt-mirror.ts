import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Debian mirror this host's apt already uses, so images come from the same (possibly
 * local or proxied) mirror the admin set up. DISKLESS_DEBIAN_MIRROR overrides it.
 * Reads deb822 `.sources` files (URIs:) and one-line `.list` files (deb URI suite …).
 */
export function hostDebianMirror(aptDir = '/etc/apt', env: NodeJS.ProcessEnv = process.env): string {
  const override = env['DISKLESS_DEBIAN_MIRROR'];
  if (override) return override;
  const files: string[] = [];
  try {
    files.push(join(aptDir, 'sources.list'));
    for (const n of readdirSync(join(aptDir, 'sources.list.d')).sort()) {
      if (n.endsWith('.sources') || n.endsWith('.list')) files.push(join(aptDir, 'sources.list.d', n));
    }
  } catch {
    // no sources.list.d: only sources.list
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const uris = /^URIs:\s*(\S+)/i.exec(line)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line)?.[1];
      // The security archive carries only updates: it cannot bootstrap a system.
      if (uris && /^https?:\/\//.test(uris) && !/security/.test(uris)) return uris.replace(/\/+$/, '');
    }
  }
  throw new Error(`Cannot find a Debian mirror: no http(s) URI in ${aptDir}/sources.list or sources.list.d; set DISKLESS_DEBIAN_MIRROR`);
}
