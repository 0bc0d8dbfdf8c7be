// The RA responder against a client nobody here wrote: rdisc6 (Debian ndisc6) solicits from a
// second namespace on the lab bridge and must hear "router lifetime 0", nothing more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabNetwork } from '../lab/netns.js';
import { memoryLogger } from '../log/logger.js';
import { buildStaticHelper } from './static-helper.js';
import { RA_RESPONDER_SOURCE, RaResponder } from './ra-responder.js';

test('rdisc6 hears a router advertisement with lifetime 0, no flags and no prefix', { timeout: 60_000 }, async (t) => {
  const bin = await buildStaticHelper(RA_RESPONDER_SOURCE, 'ra-responder');
  const net = await LabNetwork.create({ foreignAddress: '10.77.0.2/24' });
  t.after(() => net.destroy());
  const ra = await net.spawn(net.name, [bin, 'br0']);
  const foreign = net.foreignName!;
  // Without an answer rdisc6 prints "Timed out." and exits 2; link-local DAD may still be
  // running on a fresh link, so it is given a few tries.
  let out = '';
  for (let i = 0; i < 8 && !/Router lifetime/.test(out); i++) {
    const r = await net.exec(foreign, ['rdisc6', '-1', '-w', '1500', 'eth0'], { check: false, timeoutMs: 10_000 });
    out = r.stdout + r.stderr;
    if (!/Router lifetime/.test(out)) await new Promise((res) => setTimeout(res, 500));
  }
  assert.match(out, /Router lifetime\s*:\s*0 \(0x0+\) seconds/, out);
  assert.match(out, /Stateful address conf\.\s*:\s*No/);
  assert.match(out, /Stateful other conf\.\s*:\s*No/);
  assert.doesNotMatch(out, /Prefix\s*:/, 'no prefix is advertised');
  assert.match(out, /from fe80::/, 'answered from the bridge\'s link-local address');
  assert.match(ra.output(), /told fe80::[0-9a-f:]+ there is no IPv6 router/);
});

test('a missing interface is a clear start error, not a hang', async () => {
  const logger = memoryLogger();
  const r = new RaResponder({ interface: 'nosuchif0', logger });
  await assert.rejects(r.start(), /ra-responder exited \(1\): no interface nosuchif0/);
  await r.stop();
});

test('stop() kills a responder that ignores SIGTERM', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-ra-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const binary = join(dir, 'stubborn-ra-responder');
  await writeFile(binary, `#!/bin/sh\ntrap '' TERM\necho 'ra-responder: answering router solicitations on $1' >&2\nwhile :; do sleep 1; done\n`, { mode: 0o755 });
  const r = new RaResponder({ interface: 'br0', binary });
  await r.start();
  await r.stop(); // without a SIGKILL after the grace period this never returns
});
