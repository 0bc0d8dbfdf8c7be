import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Socket as TcpSocket } from 'node:net';

type SockoptBinding = { setsockopt(fd: number, level: number, name: number, value: number): void };
let binding: SockoptBinding | undefined;

/**
 * The `sockopt` package's native binding: setsockopt(2) with an integer value on a raw fd, for
 * the options Node has no API for. Its own index.js reads the deprecated `socket._handle`, so
 * the binding is loaded directly and callers hand it the fd.
 */
function sockopt(): SockoptBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('sockopt/package.json');
  const fromSockopt = createRequire(packageJson);
  const nodeGypBuild = fromSockopt('node-gyp-build') as (dir: string) => SockoptBinding;
  binding = nodeGypBuild(dirname(packageJson));
  return binding;
}

/** setsockopt(fd, level, name, &value, sizeof(int)); throws on failure. */
export function setSocketOption(fd: number, level: number, name: number, value: number): void {
  sockopt().setsockopt(fd, level, name, value);
}

/** <netinet/in.h> and <linux/tcp.h>. */
const IPPROTO_TCP = 6;
const TCP_USER_TIMEOUT = 18;

/**
 * TCP_USER_TIMEOUT (Linux 2.6.37+): once data sent on the connection has gone unacknowledged
 * for `ms` (the peer lost power, or its link went down mid-reply), the kernel gives up with
 * ETIMEDOUT instead of retransmitting for tcp_retries2 (about 15 minutes by default). It also
 * replaces the keepalive probe count: an idle peer that answers no probe for `ms` is dropped.
 * A live peer that merely reads slowly keeps the connection (it answers zero-window probes).
 */
export function setTcpUserTimeout(socket: TcpSocket, ms: number): void {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('Cannot set TCP_USER_TIMEOUT: socket has no file descriptor');
  setSocketOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, Math.max(1, Math.round(ms)));
}
