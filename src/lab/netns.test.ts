import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { assertLabHost } from './lab-host.js';
import { LabNetwork } from './netns.js';
import { run } from '../process/run.js';

assertLabHost();

async function namespaces(): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list']);
  return out.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

async function hostLinks(): Promise<string> {
  return (await run(['ip', '-o', 'link', 'show'])).stdout.replace(/^\d+: /gm, '').split('\n').map((l) => l.split(':')[0]).sort().join(' ');
}

// SIGKILL is asynchronous: the process may take a moment to go, or linger as a zombie until reaped.
async function dies(pid: number, withinMs = 3000): Promise<boolean> {
  for (const end = Date.now() + withinMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z')) return true;
    } catch {
      return true;
    }
  }
  return false;
}

const SERVER = `
const net = require('node:net');
const s = net.createServer((c) => c.end('hello from the lab'));
s.listen(7070, process.argv[1], () => console.log('listening'));
`;
const CLIENT = `
const c = require('node:net').connect(7070, process.argv[1]);
c.on('data', (d) => process.stdout.write(d));
`;

test('a server in the lab namespace is reachable from the foreign host, and destroy() leaves nothing', async (t) => {
  const linksBefore = await hostLinks();
  const lab = await LabNetwork.create({ foreignAddress: '10.77.0.2/24' });
  t.after(() => lab.destroy());
  assert.ok(lab.foreignName !== undefined);
  const listed = await namespaces();
  assert.ok(listed.includes(lab.name) && listed.includes(lab.foreignName));

  const tap = await lab.addTap();
  assert.equal(tap, 'tap0');
  const link = await lab.exec(lab.name, ['ip', '-o', 'link', 'show', tap]);
  assert.match(link.stdout, /master br0/);

  const server = await lab.spawnNode(lab.name, ['-e', SERVER, lab.address]);
  while (!server.output().includes('listening')) {
    assert.equal(server.status, undefined, `server died: ${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const reply = await lab.exec(lab.foreignName, [process.execPath, '-e', CLIENT, lab.address], { timeoutMs: 5000 });
  assert.equal(reply.stdout, 'hello from the lab');
  // The lab is sealed: the host's own namespace has no route to it.
  await assert.rejects(lab.exec('1', ['true']), /not part of lab network/);

  await lab.destroy();
  assert.notEqual(server.status, undefined, 'server stopped');
  const after = await namespaces();
  assert.ok(!after.includes(lab.name) && !after.includes(lab.foreignName), `left behind: ${after.join(' ')}`);
  // Other tests running beside this one add and remove host links of their own, so only links
  // with the names this lab gives its taps, veths and bridge count as leaked.
  const before = new Set(linksBefore.split(' '));
  const leaked = (await hostLinks()).split(' ').filter((l) => !before.has(l) && /^(vforeign|vrack|tap\d+|br0|eth0)(@|$)/.test(l));
  assert.deepEqual(leaked, [], 'no tap, veth or bridge leaked to the host');
  await lab.destroy(); // idempotent
});

test('SIGTERM to the owning process removes its namespaces and the processes in them', async () => {
  const script = `
    const { LabNetwork } = await import(${JSON.stringify(new URL('./netns.js', import.meta.url).href)});
    const lab = await LabNetwork.create({ foreignAddress: '10.77.0.2/24' });
    await lab.spawn(lab.name, ['sleep', '300']);
    console.log(lab.name);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  const name = first.toString().trim();
  assert.match(name, /^dl-\d+-[0-9a-f]+$/);
  assert.ok((await namespaces()).includes(name));
  const sleepers = (await run(['ip', 'netns', 'pids', name])).stdout.trim();
  assert.notEqual(sleepers, '');

  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.deepEqual([code, signal], [null, 'SIGTERM'], 'dies by the signal it got, as without the hook');
  const left = (await namespaces()).filter((n) => n.startsWith(name));
  assert.deepEqual(left, []);
  for (const pid of sleepers.split(/\s+/)) assert.ok(await dies(Number(pid)), `process ${pid} in the namespace was killed`);
});
