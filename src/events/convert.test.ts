import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDhcp, fromHttp, fromNbd, fromReport, fromTftp } from './convert.js';
import { macFromBootPath } from '../boot/urls.js';
import { peerIp } from './peer-address.js';
import { PeerDirectory } from './peer-directory.js';

const ctx = { now: () => 5_000, lookupMac: (ip: string) => (ip === '10.0.0.9' ? '52:54:00:00:00:09' : undefined) };

test('peer strings of every service become bare IPs', () => {
  assert.equal(peerIp('10.0.0.9'), '10.0.0.9');
  assert.equal(peerIp('10.0.0.9:2070'), '10.0.0.9');
  assert.equal(peerIp('::ffff:10.0.0.9'), '10.0.0.9');
  assert.equal(peerIp('[fe80::1]:10809'), 'fe80::1');
  assert.equal(peerIp('?'), undefined);
});

test('service events become boot events with the MAC behind the peer', () => {
  assert.deepEqual(fromDhcp({ type: 'ack', mac: '52:54:00:00:00:09', xid: 0xab, ip: '10.0.0.9', file: 'undionly.kpxe', reason: 'known node', at: 7 }), {
    time: 7, mac: '52:54:00:00:00:09', ip: '10.0.0.9', kind: 'dhcp', name: 'ack', detail: '10.0.0.9 undionly.kpxe known node',
    fields: { xid: '0x000000ab', file: 'undionly.kpxe', reason: 'known node' },
  });
  assert.deepEqual(fromTftp({ type: 'done', peer: { address: '10.0.0.9', port: 2070 }, file: 'undionly.kpxe', bytes: 70_000, durationMs: 120 }, ctx), {
    time: 5_000, ip: '10.0.0.9', mac: '52:54:00:00:00:09', kind: 'tftp', name: 'done', detail: 'undionly.kpxe', durationMs: 120, bytes: 70_000, fields: { file: 'undionly.kpxe', peer: '10.0.0.9:2070' },
  });
  const http = fromHttp({ type: 'done', peer: '::ffff:10.0.0.9', method: 'GET', path: '/store/deb/0123456789abcdef/vmlinuz', status: 200, bytes: 9, durationMs: 4 }, ctx);
  assert.equal(http.mac, '52:54:00:00:00:09');
  assert.deepEqual(http.fields, { method: 'GET', path: '/store/deb/0123456789abcdef/vmlinuz', status: '200', image: 'deb', version: '0123456789abcdef' });
  // An unknown IP fetching its own script still names its MAC.
  assert.equal(fromHttp({ type: 'done', peer: '10.0.0.7', method: 'GET', path: '/boot/52-54-00-00-00-07.ipxe', status: 200, bytes: 9, durationMs: 1 }, ctx).mac, '52:54:00:00:00:07');
  const nbd = fromNbd({ type: 'disconnect', peer: '10.0.0.9:40000', export: 'deb@0123456789abcdef', bytesRead: 1_000, durationMs: 50 }, ctx);
  assert.deepEqual([nbd.mac, nbd.bytes, nbd.fields.image, nbd.fields.version], ['52:54:00:00:00:09', 1_000, 'deb', '0123456789abcdef']);
  assert.equal(fromNbd({ type: 'connect', peer: '10.0.0.9:40000', bytesRead: 0, durationMs: 0 }, ctx).bytes, undefined);
});

test('node reports: key=value details become fields and numbers, failures and booted get their own kinds', () => {
  const ok = fromReport({ mac: '52:54:00:00:00:09', stage: 'fetched', status: 'ok', detail: 'bytes=4096 duration_ms=812', peer: '10.0.0.9', fields: { uptime_ms: '5000' } }, ctx);
  assert.deepEqual(ok, {
    time: 5_000, mac: '52:54:00:00:00:09', ip: '10.0.0.9', kind: 'stage', name: 'fetched', detail: 'bytes=4096 duration_ms=812', durationMs: 812, bytes: 4096,
    fields: { bytes: '4096', duration_ms: '812', uptime_ms: '5000', status: 'ok' },
  });
  const failed = fromReport({ mac: '52:54:00:00:00:09', stage: 'root', status: 'failed', detail: 'sha256 mismatch: got a=b', peer: '10.0.0.9', fields: {} }, ctx);
  assert.deepEqual([failed.kind, failed.name, failed.fields], ['failed', 'root', { status: 'failed' }]);
  assert.equal(fromReport({ mac: '52:54:00:00:00:09', stage: 'booted', status: 'ok', detail: '', peer: '10.0.0.9', fields: { uptime_s: '12.5' } }, ctx).kind, 'booted');
});

test('boot paths name their machine; the directory learns IPs from ACKs and reports', () => {
  assert.equal(macFromBootPath('/boot/52-54-00-AA-BB-CC.ipxe'), '52:54:00:aa:bb:cc');
  assert.equal(macFromBootPath('pxelinux.cfg/01-52-54-00-aa-bb-cc'), '52:54:00:aa:bb:cc');
  assert.equal(macFromBootPath('/store/x/vmlinuz'), undefined);
  const dir = new PeerDirectory((ip) => (ip === '10.0.0.1' ? 'fallback' : undefined));
  dir.learn({ kind: 'dhcp', name: 'offer', mac: 'aa:aa:aa:aa:aa:aa', ip: '10.0.0.2' });
  assert.equal(dir.lookup('10.0.0.2'), undefined);
  dir.learn({ kind: 'dhcp', name: 'ack', mac: 'aa:aa:aa:aa:aa:aa', ip: '10.0.0.2' });
  assert.equal(dir.lookup('10.0.0.2'), 'aa:aa:aa:aa:aa:aa');
  assert.equal(dir.lookup('10.0.0.1'), 'fallback');
});
