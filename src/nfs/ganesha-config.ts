/** One read-only NFSv4 export: `pseudo` is the path nodes mount (root=nfs4:SERVER:/PSEUDO). */
export interface NfsExport {
  id: number;
  path: string;
  pseudo: string;
}

// ganesha's config language has no escaping for quotes in strings: refuse them instead.
function quoted(s: string): string {
  if (/["\\\n\r;{}]/.test(s)) throw new Error(`Cannot export ${JSON.stringify(s)}: quotes, backslashes, braces, ";" and newlines are not allowed in NFS paths`);
  return `"${s}"`;
}

/**
 * An nfs-ganesha config serving NFSv4 only, read-only, without rpcbind, dbus or Kerberos
 * (the set that works on a host without the kernel's nfsd). Root is not squashed:
 * image files owned by root must read as root's on the node.
 */
export function ganeshaConfig(o: { bindAddress: string; port?: number; exports: readonly NfsExport[]; recoveryDir: string }): string {
  const lines = [
    '# Written by diskless serve; regenerated at every start.',
    'NFS_CORE_PARAM {',
    '  Protocols = 4;',
    `  Bind_addr = ${o.bindAddress};`,
    ...(o.port ? [`  NFS_Port = ${o.port};`] : []),
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
      '  Access_Type = RO;',
      '  Squash = No_Root_Squash;',
      '  Protocols = 4;',
      '  Transports = TCP;',
      '  SecType = sys;',
      '  FSAL { Name = VFS; }',
      '}',
    );
  }
  return lines.join('\n') + '\n';
}
