import { readFileSync } from 'node:fs';
import type { Socket } from 'node:dgram';
import { setSocketOption } from '../../net/sockopt.js';

/** <asm-generic/socket.h>: SOL_SOCKET and SO_BINDTOIFINDEX (Linux 5.0+). */
const SOL_SOCKET = 1;
const SO_BINDTOIFINDEX = 62;

/** The kernel's index for `name`, read from sysfs; throws a clear error for unknown interfaces. */
export function interfaceIndex(name: string): number {
  if (!/^[^/\s\0]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new Error(`Cannot bind DHCP to interface "${name}": not a valid interface name`);
  }
  let text: string;
  try {
    text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
  } catch {
    throw new Error(`Cannot bind DHCP to interface "${name}": no such interface`);
  }
  const index = Number(text.trim());
  if (!Number.isInteger(index) || index <= 0) throw new Error(`Cannot bind DHCP to interface "${name}": bad ifindex "${text.trim()}"`);
  return index;
}

function socketFd(socket: Socket): number {
  const stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = stateSymbol === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: number } }>)[stateSymbol];
  const fd = state?.handle?.fd ?? (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('Cannot bind DHCP socket to an interface: socket has no file descriptor (not bound yet?)');
  return fd;
}

/**
 * SO_BINDTOIFINDEX: the socket then only receives packets that arrived on that interface and
 * sends its 255.255.255.255 replies out of it, instead of the default route's interface.
 */
export function bindSocketToInterface(socket: Socket, ifindex: number): void {
  setSocketOption(socketFd(socket), SOL_SOCKET, SO_BINDTOIFINDEX, ifindex);
}
