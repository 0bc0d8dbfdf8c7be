import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileReader } from '../../files/sized-reader.js';
import { ErrorCode } from './packet.js';
import { TftpServer, type TftpEvent } from './server.js';
import { fetchFile, TestClient } from './testdata/udp-client.js';

/**
 * Requests that must never yield a file, sent to the live server over UDP: each must get an
 * ERROR packet (silence would leave a client waiting out its retries) and nothing after it.
 * The path rules themselves are unit-tested in src/files/confine.test.ts; this is the wire view.
 */

let dir = '';
let root = '';
const good = randomBytes(3000);

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-confine-')));
  root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(dir, 'secret'), 'outside the root');
  await writeFile(join(root, 'good.bin'), good);
  await symlink('../secret', join(root, 'escape'));
  // A chain whose every hop but the last stays inside the root.
  await symlink('chain2', join(root, 'chain1'));
  await symlink('sub/chain3', join(root, 'chain2'));
  await symlink('../../secret', join(root, 'sub', 'chain3'));
  await symlink('/etc/passwd', join(root, 'absolute'));
  await symlink('..', join(root, 'updir'));
  await symlink('loop', join(root, 'loop'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const request = (opcode: number, name: string, mode = 'octet', ...options: string[]): Uint8Array =>
  Uint8Array.from([0, opcode, ...ascii(name), 0, ...ascii(mode), 0, ...options.flatMap((o) => [...ascii(o), 0])]);
const rrq = (name: string, ...options: string[]): Uint8Array => request(1, name, 'octet', ...options);

const { AccessViolation, FileNotFound, IllegalOperation } = ErrorCode;
const cases: Array<[string, Uint8Array, number]> = [
  ['../x', rrq('../x'), AccessViolation],
  ['a/../../x', rrq('a/../../x'), AccessViolation],
  ['..\\secret (backslashes are separators)', rrq('..\\secret'), AccessViolation],
  ['/etc/passwd is root-relative: looked up inside the root, not found', rrq('/etc/passwd'), FileNotFound],
  ['%2e%2e/secret is not URL-decoded', rrq('%2e%2e/secret'), FileNotFound],
  ['symlink inside the root pointing outside', rrq('escape'), AccessViolation],
  ['symlink chain that ends outside', rrq('chain1'), AccessViolation],
  ['symlink to an absolute path', rrq('absolute'), AccessViolation],
  ['through a symlinked parent directory', rrq('updir/secret'), AccessViolation],
  ['symlink loop', rrq('loop'), AccessViolation],
  ['0-byte filename', rrq(''), IllegalOperation],
  ['10,000-byte filename', rrq('a'.repeat(10_000)), IllegalOperation],
  ['no NUL after the filename', Uint8Array.from([0, 1, ...ascii('good.bin')]), IllegalOperation],
  ['options without the final NUL', rrq('good.bin', 'blksize', '1024').subarray(0, -1), IllegalOperation],
  ['blksize twice', rrq('good.bin', 'blksize', '512', 'blksize', '1024'), IllegalOperation],
  ['blksize twice, differing in case', rrq('good.bin', 'blksize', '512', 'BLKSIZE', '1024'), IllegalOperation],
  ['option value over 255 bytes', rrq('good.bin', 'blksize', '9'.repeat(400)), IllegalOperation],
  ['blksize=99999999999999999999 does not open a way out', rrq('../secret', 'blksize', '99999999999999999999'), AccessViolation],
  ['unknown mode', request(1, 'good.bin', 'binary'), IllegalOperation],
  ['mail mode', request(1, 'good.bin', 'mail'), IllegalOperation],
  ['write request', request(2, 'good.bin'), AccessViolation],
];

test('refused requests get one ERROR with the right code from the request port, and never data', async () => {
  const events: TftpEvent[] = [];
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root, onEvent: (e) => events.push(e) });
  await server.start();
  const port = server.address().port;
  try {
    // Each case from its own loopback address: a host at a time, as firmware asks, so the
    // per-address cap (4) does not answer in place of the path rules.
    await Promise.all(cases.map(async ([name, bytes, code], i) => {
      const client = await TestClient.open(`127.0.1.${i + 1}`);
      try {
        client.send(bytes, port);
        const reply = await client.next(2000);
        assert.ok(reply, `${name}: silence`);
        assert.equal(reply.packet.type, 'error', `${name}: got ${reply.packet.type}`);
        assert.equal(reply.packet.type === 'error' && reply.packet.code, code, name);
        assert.equal(reply.from.port, port, `${name}: a refusal opens no transfer port`);
        assert.deepEqual(await client.collect(150), [], `${name}: something followed the ERROR`);
      } finally {
        client.close();
      }
    }));
    assert.equal(server.activeTransfers, 0);
    assert.deepEqual(events.filter((e) => e.type !== 'error'), [], 'no transfer started');
    // And the server still serves what it should.
    assert.deepEqual((await fetchFile(port, 'good.bin')).data, good);
  } finally {
    await server.stop();
  }
});

test('blksize=99999999999999999999 for a real file is lowered to maxBlksize (RFC 2348), not refused', async () => {
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root, maxBlksize: 1468 });
  await server.start();
  try {
    const r = await fetchFile(server.address().port, 'good.bin', [{ name: 'blksize', value: '99999999999999999999' }]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.oack, [{ name: 'blksize', value: '1468' }]);
    assert.deepEqual(r.data, good);
  } finally {
    await server.stop();
  }
});

test('a parent directory swapped for a symlink out of the root after the path check is refused on the opened descriptor', async () => {
  // The server checks a path with realpath, then opens it: two steps. Here the second step is
  // given a path whose directory has meanwhile become a link to the directory holding secret.
  const swapped = join(root, 'swapped');
  await symlink('..', swapped);
  try {
    const opened = await openFileReader(join(swapped, 'secret'), { confinedTo: root });
    if (opened.ok) await opened.reader.close();
    assert.ok(!opened.ok, 'the file outside the root was opened');
    assert.equal(opened.reason, 'denied');
  } finally {
    await rm(swapped);
  }
});
