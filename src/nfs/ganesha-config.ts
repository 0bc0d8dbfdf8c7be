/** One read-only export: `pseudo` is the path nodes mount (root=nfs4:SERVER:/PSEUDO, or nfs: with vers=3). */
export interface NfsExport {
  id: number;
  path: string;
  pseudo: string;
}

export type NfsVersion = 3 | 4;

export interface GaneshaConfigOptions {
  bindAddress: string;
  port?: number;
  exports: readonly NfsExport[];
  recoveryDir: string;
  /** Which NFS versions to serve; 3 needs rpcbind on the host (ganesha registers with it). */
  versions: readonly NfsVersion[];
  /** IPv4 addresses and networks (CIDR) that may mount; nobody else can, not even list the exports. */
  clients: readonly string[];
}

// ganesha's config language has no escaping for quotes in strings: refuse them instead.
function quoted(s: string): string {
  if (/["\\\n\r;{}]/.test(s)) throw new Error(`Cannot export ${JSON.stringify(s)}: quotes, backslashes, braces, ";" and newlines are not allowed in NFS paths`);
  return `"${s}"`;
}

/** A CLIENT list entry is a bare word in ganesha's grammar: only an IPv4 address with an optional prefix. */
function clientWord(c: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(c)) throw new Error(`Cannot let ${JSON.stringify(c)} mount NFS exports: not an IPv4 address or network`);
  return c;
}

/**
 * An nfs-ganesha config serving read-only exports over NFSv4 (and NFSv3 when asked: the same
 * paths, as Mount_Path_Pseudo makes v3 mounts use the pseudo paths), without dbus or Kerberos.
 * Each export is closed to everyone (Access_Type = None) but the listed clients. Root is not
 * squashed: image files owned by root must read as root's on the node.
 */
export function ganeshaConfig(o: GaneshaConfigOptions): string {
  if (o.versions.length === 0) throw new Error('Cannot configure NFS: no version to serve');
  const protocols = [...new Set(o.versions)].sort().join(', ');
  const clients = o.clients.map(clientWord);
  const lines = [
    '# Written by diskless serve; regenerated at every start.',
    'NFS_CORE_PARAM {',
    `  Protocols = ${protocols};`,
    `  Bind_addr = ${o.bindAddress};`,
    ...(o.port ? [`  NFS_Port = ${o.port};`] : []),
    // NFSv3 mounts name the pseudo path too, so both versions mount the same path.
    ...(o.versions.includes(3) ? ['  Mount_Path_Pseudo = true;'] : []),
    // Nodes mount read-only with nolock: no lock manager, no quota service.
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '}',
    'NFS_KRB5 { Active_krb5 = false; }',
    'NFSV4 {',
    '  Graceless = true;',
    // Owners as numbers: a node's kernel has no idmapd, so "root@domain" would read as nobody
    // and setuid-root tools (mount) would stop working.
    '  Only_Numeric_Owners = true;',
    `  RecoveryRoot = ${quoted(o.recoveryDir)};`,
    '}',
  ];
  for (const e of o.exports) {
    lines.push(
      'EXPORT {',
      `  Export_Id = ${e.id};`,
      `  Path = ${quoted(e.path)};`,
      `  Pseudo = ${quoted(e.pseudo)};`,
      '  Access_Type = None;',
      '  Squash = No_Root_Squash;',
      `  Protocols = ${protocols};`,
      '  Transports = TCP;',
      '  SecType = sys;',
      '  FSAL { Name = VFS; }',
      ...(clients.length ? [`  CLIENT { Clients = ${clients.join(', ')}; Access_Type = RO; }`] : []),
      '}',
    );
  }
  return lines.join('\n') + '\n';
}
