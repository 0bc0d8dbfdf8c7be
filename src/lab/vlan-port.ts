import { randomBytes } from 'node:crypto';
import { buildStaticHelper, nativeSource } from '../native/static-helper.js';
import type { Daemon } from '../process/daemon.js';
import type { LabNetwork } from './netns.js';

export const VLAN_PORT_SOURCE = nativeSource('src/lab/vlan-port.c');

export interface VlanPort {
  /** The port's tap on the lab bridge. */
  tap: string;
  /** QEMU -netdev options (without id) for the machine's NIC on this port. */
  netdev: string;
  /** UDP ports on the namespace's loopback: the port's own, and the machine's it sends to. */
  udp: { port: number; machine: number };
  daemon: Daemon;
}

let nextPort = 47_000;

/**
 * A lab bridge port that carries VLAN `vid` tagged only, for one QEMU NIC: the tagging runs in
 * `vlan-port.c` (user space), as the host kernel may have neither bridge VLAN filtering nor
 * 8021q. The machine reaches the bridge only with frames tagged `vid`; it gets every frame of
 * the bridge tagged `vid`. Stopped with the lab network.
 */
export async function addVlanPort(net: LabNetwork, vid: number, timeoutMs = 10_000): Promise<VlanPort> {
  const bin = await buildStaticHelper(VLAN_PORT_SOURCE, 'vlan-port');
  const tap = `vp${randomBytes(3).toString('hex')}`;
  const local = nextPort++;
  const peer = nextPort++;
  const daemon = await net.spawn(net.name, [bin, tap, String(vid), String(local), String(peer)]);
  for (const deadline = Date.now() + timeoutMs; !daemon.output().includes('ready'); await new Promise((r) => setTimeout(r, 50))) {
    if (daemon.status !== undefined || Date.now() > deadline) throw new Error(`The lab's VLAN port did not start: ${daemon.output().slice(-500)}`);
  }
  await net.exec(net.name, ['ip', 'link', 'set', tap, 'master', net.bridge, 'up']);
  return { tap, netdev: `socket,udp=127.0.0.1:${local},localaddr=127.0.0.1:${peer}`, udp: { port: local, machine: peer }, daemon };
}
