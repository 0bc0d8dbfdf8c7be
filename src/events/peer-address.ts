/**
 * The bare IP of a peer as the services print it: "10.0.0.5", "10.0.0.5:1234",
 * "[fe80::1]:1234", or an IPv4-mapped "::ffff:10.0.0.5" from a dual-stack socket. Mapped
 * addresses are unwrapped so that one machine has one IP whichever socket saw it.
 */
export function peerIp(peer: string): string | undefined {
  let s = peer.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^[^:]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped) s = mapped[1]!;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s;
  if (/^[0-9a-f:]+$/i.test(s) && s.includes(':')) return s.toLowerCase();
  return undefined;
}
