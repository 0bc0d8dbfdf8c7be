import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NbdEvent } from './events.js';
import { staticExports, type NbdExport } from './exports.js';
import { NbdServer } from './server.js';
import { RawClient } from './testdata/raw-client.js';
import { createVethLab, type VethLab } from '../dhcp/testdata/veth-namespace.js';

/**
 * A node that loses power sends no FIN: only the server's TCP can tell it is gone. The client
 * runs in a network namespace behind a veth pair; taking its end of the link down makes it
 * vanish, as a powered-off machine does. Its connection slot must come back within seconds
 * (keepAliveIdleMs, deadPeerTimeoutMs), whether the connection was idle or a reply was in
 * flight, the case keepalive alone leaves to ~15 minutes of retransmissions (tcp_retries2).
 */

const skip = process.getuid?.() !== 0 ? 'needs root: creates a network namespace and a veth pair' : false;
const CLIENT = fileURLToPath(new URL('./testdata/attach-and-wait.js', import.meta.url));
const SIZE = 16 * 1024 * 1024;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Condition not met in ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts the client in the namespace and waits for its "attached". */
function startClient(lab: VethLab, host: string, port: number, mode: 'read' | 'idle'): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', lab.namespace, process.execPath, CLIENT, host, String(port), 'root', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('attached')) resolve(child); });
    child.once('exit', (code) => reject(new Error(`client exited ${code}: ${err}`)));
  });
}

for (const mode of ['idle', 'read'] as const) {
  test(`a peer that vanishes ${mode === 'idle' ? 'while idle' : 'with a reply in flight'} frees its slot within seconds; a live idle peer keeps its connection`, { skip, timeout: 60_000 }, async (t) => {
    const lab = createVethLab();
    let child: ChildProcess | undefined;
    let server: NbdServer | undefined;
    let live: RawClient | undefined;
    try {
      const net = `10.213.${lab.subnet}`;
      execFileSync('ip', ['-n', lab.namespace, 'addr', 'add', `${net}.2/24`, 'dev', lab.clientIf]);
      let readCalled = false;
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const root: NbdExport = {
        size: SIZE,
        read: async (offset, length) => {
          readCalled = true;
          await gate;
          return Buffer.alloc(length, offset & 0xff);
        },
      };
      const errors: NbdEvent[] = [];
      server = new NbdServer({
        address: `${net}.1`, port: 0, exports: staticExports({ root }),
        keepAliveIdleMs: 1000, deadPeerTimeoutMs: 3000,
        onEvent: (e) => { if (e.type === 'error') errors.push(e); },
      });
      await server.start();
      const port = server.address().port;
      child = await startClient(lab, `${net}.1`, port, mode);
      // A live client on this side of the link, idle as long as the dead one.
      live = await RawClient.connect(port, `${net}.1`);
      await live.attach('root');
      await until(() => server!.connections === 2, 5000, 'both attached');
      if (mode === 'read') await until(() => readCalled, 5000, 'the READ reached the server');

      execFileSync('ip', ['-n', lab.namespace, 'link', 'set', lab.clientIf, 'down']);
      const vanished = Date.now();
      release(); // the 8 MiB reply now goes out to nobody
      // 30 s: ten times the 3 s dead-peer timeout, far below tcp_retries2's ~15 minutes.
      await until(() => server!.connections === 1, 30_000, 'the dead peer\'s connection closed');
      t.diagnostic(`${mode}: slot freed ${Date.now() - vanished} ms after the peer vanished (${errors.map((e) => e.error).join(', ')})`);
      assert.ok(errors.some((e) => /ETIMEDOUT/.test(e.error ?? '')), 'closed by the TCP timeout');
      assert.equal((await live.pread(4096, 16)).error, 0, 'the live idle client is still attached');
    } finally {
      live?.destroy();
      child?.kill('SIGKILL');
      await server?.stop();
      lab.destroy();
    }
  });
}
