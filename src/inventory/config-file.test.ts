import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { editConfigFile } from './config-file.js';
import { addNode } from './editor.js';
import { run as runCommand } from '../process/run.js';

const CONFIG = `# shared lab inventory
server:
  address: 10.0.0.1    # us
dhcp:
  mode: proxy          # beside the site's DHCP
profiles:
  default:
    kernel: /k
nodes:
  - mac: 52:54:00:00:00:01   # first
`;

async function withDir(fn: (dir: string, file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-inventory-'));
  try {
    const file = join(dir, 'diskless.yaml');
    await writeFile(file, CONFIG);
    await fn(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return runCommand([process.execPath, ...args], { check: false });
}

test('20 processes adding a node each at once: no update is lost', async () => {
  await withDir(async (dir, file) => {
    const script = join(dir, 'add.mjs');
    await writeFile(
      script,
      `const [, , cfUrl, edUrl, file, i] = process.argv;
const { editConfigFile } = await import(cfUrl);
const { addNode } = await import(edUrl);
const mac = '52:54:00:00:01:' + Number(i).toString(16).padStart(2, '0');
await editConfigFile(file, (t) => addNode(t, { mac, hostname: 'n' + i }), { lockTimeoutMs: 20000 });
`,
    );
    const cf = new URL('./config-file.js', import.meta.url).href;
    const ed = new URL('./editor.js', import.meta.url).href;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => run([script, cf, ed, file, String(i)])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const text = await readFile(file, 'utf8');
    const nodes = parseConfig(text, file).nodes;
    assert.equal(nodes.length, 21);
    assert.deepEqual(new Set(nodes.map((n) => n.hostname).filter(Boolean)), new Set(Array.from({ length: 20 }, (_, i) => `n${i}`)));
    assert.ok(text.startsWith(CONFIG), 'the original lines, comments included, are untouched');
    assert.deepEqual((await readdir(dir)).sort(), ['add.mjs', 'diskless.yaml'], 'no lock or temp file left behind');
  });
});

test('a failing edit leaves the file as it was, mode and all', async () => {
  await withDir(async (dir, file) => {
    await chmod(file, 0o640);
    await assert.rejects(editConfigFile(file, (t) => addNode(t, { mac: '52:54:00:00:00:01' })), /already exists/);
    await assert.rejects(editConfigFile(file, () => { throw new Error('boom'); }), /boom/);
    assert.equal(await readFile(file, 'utf8'), CONFIG);
    assert.deepEqual(await readdir(dir), ['diskless.yaml']);
    await editConfigFile(file, (t) => addNode(t, { mac: '52:54:00:00:00:02' }));
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    assert.equal(await readFile(file, 'utf8'), `${CONFIG}  - mac: 52:54:00:00:00:02\n`);
  });
});

test('a lock left by a dead process is removed; a live holder makes us wait, then give up clearly', async () => {
  await withDir(async (_dir, file) => {
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = child.pid!;
    await new Promise((r) => child.on('close', r));
    await writeFile(`${file}.lock`, `${deadPid}\n`);
    await editConfigFile(file, (t) => addNode(t, { mac: '52:54:00:00:00:03' }));
    assert.equal(parseConfig(await readFile(file, 'utf8'), file).nodes.length, 2);

    await writeFile(`${file}.lock`, `${process.pid}\n`);
    const started = Date.now();
    await assert.rejects(editConfigFile(file, (t) => t + '# x\n', { lockTimeoutMs: 300 }), new RegExp(`being edited by pid ${process.pid} \\(lock .*diskless\\.yaml\\.lock\\)`));
    assert.ok(Date.now() - started >= 300);
    await rm(`${file}.lock`);
  });
});

test('concurrent edits inside one process are serialised too', async () => {
  await withDir(async (_dir, file) => {
    await Promise.all(Array.from({ length: 5 }, (_, i) => editConfigFile(file, (t) => addNode(t, { mac: `52:54:00:00:02:0${i}` }))));
    assert.equal(parseConfig(await readFile(file, 'utf8'), file).nodes.length, 6);
  });
});
