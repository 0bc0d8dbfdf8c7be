import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BootEvent, NewBootEvent } from './boot-event.js';
import { LoaderWatch } from './loader-watch.js';
import { NodeStates } from './node-state.js';
import { bootTimeline } from './boot-timeline.js';

const MAC = '52:54:00:00:00:01';

/** A watch on a fake clock: `tick` runs the timers that are due. */
function harness(silenceMs = 30_000) {
  let now = 1_000_000;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextTimer = 1;
  const recorded: NewBootEvent[] = [];
  const states = new NodeStates();
  const watch = new LoaderWatch({
    silenceMs,
    now: () => now,
    record: (e) => {
      recorded.push(e);
      states.apply({ ...e, seq: ++seq });
    },
    setTimer: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (h) => timers.delete(h as number),
  });
  const feed = (e: Omit<BootEvent, 'seq' | 'time'>) => {
    const event: BootEvent = { ...e, seq: ++seq, time: now };
    states.apply(event);
    watch.observe(event);
  };
  const tick = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { watch, feed, tick, recorded, states };
}

const dhcp = (file: string): Omit<BootEvent, 'seq' | 'time'> => ({ mac: MAC, ip: '10.77.0.11', kind: 'dhcp', name: 'ack', detail: file, fields: { xid: '0x1', file } });
const tftp = (file: string, name = 'done', bytes = 1_000_000): Omit<BootEvent, 'seq' | 'time'> => ({ mac: MAC, ip: '10.77.0.11', kind: 'tftp', name, detail: file, bytes, durationMs: 900, fields: { file, peer: '10.77.0.11:1024' } });
const http = (path: string, method = 'GET', status = '200', bytes = 1_000_000): Omit<BootEvent, 'seq' | 'time'> => ({ mac: MAC, ip: '10.77.0.11', kind: 'http', name: 'done', detail: path, bytes, durationMs: 50, fields: { method, path, status } });

test('ipxe.efi downloaded whole, then silence: the refusal is inferred and fails the boot at its loader step', () => {
  const h = harness();
  h.feed(dhcp('ipxe.efi'));
  h.feed(tftp('ipxe.efi', 'start', 0));
  h.feed(tftp('ipxe.efi'));
  h.tick(29_000);
  assert.equal(h.recorded.length, 0, 'not before the silence is over');
  // The firmware trying its next boot option (DHCP again, not iPXE) is not the loader running.
  h.feed(dhcp('ipxe.efi'));
  h.tick(1_000);
  assert.equal(h.recorded.length, 1);
  const e = h.recorded[0]!;
  assert.equal(e.kind, 'failed');
  assert.equal(e.name, 'loader');
  assert.match(e.detail, /^Secure Boot refused the loader \(inferred\): ipxe\.efi was downloaded whole and nothing asked for anything next within 30 s; iPXE is not signed: give the node loader: grub or its profile secure_boot: true$/);
  assert.deepEqual(e.fields, { status: 'failed', loader: 'ipxe.efi', inferred: 'true' });
  const state = h.states.get(MAC)!;
  assert.equal(state.phase, 'failed');
  assert.equal(state.stage, 'loader');
  const timeline = bootTimeline(state.boot!);
  assert.deepEqual(timeline.map((r) => `${r.name}:${r.status}`), ['dhcp:ok', 'load:ok', 'loader:failed']);
  assert.match(timeline.at(-1)!.detail, /inferred/);
  assert.equal(h.watch.watching, 0);
});

test('a loader that runs cancels the watch: iPXE asks for its script, shim fetches GRUB, GRUB its config, /init reports', () => {
  const h = harness();
  h.feed(tftp('ipxe.efi'));
  h.feed(dhcp('http://10.77.0.1/boot/52-54-00-00-00-01.ipxe'));
  h.feed(http('/shimx64.efi'));
  h.feed(http('/revocations_sku.efi', 'GET', '404', 0));
  h.feed(http('//grubx64.efi'));
  h.feed(tftp('grub/x86_64-efi/command.lst', 'error', 0));
  h.feed(tftp('shimx64.efi'));
  h.feed({ mac: MAC, kind: 'stage', name: 'cmdline', detail: 'duration_ms=3', fields: { status: 'ok' } });
  h.tick(120_000);
  assert.deepEqual(h.recorded, []);
});

test('only a whole download starts the clock: HEAD, a size probe, a 404 do not; GRUB refused by shim is named as signed', () => {
  const h = harness(10_000);
  h.feed(http('/ipxe.efi', 'HEAD', '200', 0));
  h.feed(tftp('ipxe.efi', 'error', 0));
  h.feed(http('/ipxe.efi', 'GET', '404', 0));
  h.tick(60_000);
  assert.equal(h.recorded.length, 0);
  h.feed(http('//grubx64.efi'));
  h.tick(10_000);
  assert.match(h.recorded[0]!.detail, /grubx64\.efi is signed: check that this machine's firmware trusts its signer/);
});

test('GRUB over TFTP then silence: the signer is named; GRUB over HTTP (firmware HTTP boot) then silence: also the HTTP dead end and PXE as the way out', () => {
  const pxe = harness(10_000);
  pxe.feed(tftp('shimx64.efi'));
  pxe.feed(tftp('grubx64.efi'));
  pxe.tick(10_000);
  assert.equal(pxe.recorded.length, 1);
  assert.doesNotMatch(pxe.recorded[0]!.detail, /HTTP/);
  const h = harness(10_000);
  h.feed(http('/shimx64.efi'));
  h.feed(http('//grubx64.efi'));
  h.tick(10_000);
  assert.equal(h.recorded.length, 1);
  assert.match(h.recorded[0]!.detail, /^Secure Boot refused the loader \(inferred\): grubx64\.efi was downloaded whole .*trusts its signer \(db, or a MOK enrolled in shim\); or, as it came by the firmware's HTTP boot, GRUB started but could not go on: .* boot this machine by PXE \(TFTP\), or give server\.signed_boot a GRUB with HTTP \(Debian trixie's grub-efi-amd64-signed, 2\.12, with its shim-signed\)$/);
});

test('events without a machine are ignored; close() stops every clock', () => {
  const h = harness();
  h.watch.observe({ seq: 1, time: 0, kind: 'tftp', name: 'done', detail: '', bytes: 5, fields: { file: 'ipxe.efi' } });
  assert.equal(h.watch.watching, 0);
  h.feed(tftp('ipxe.efi'));
  assert.equal(h.watch.watching, 1);
  h.watch.close();
  h.tick(60_000);
  assert.deepEqual(h.recorded, []);
});
