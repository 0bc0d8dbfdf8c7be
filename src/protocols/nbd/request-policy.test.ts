import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommandFlag, Errno } from './constants.js';
import { decideRequest, type RequestAction } from './request-policy.js';

const SIZE = 1_000_000;
const MiB = 1024 * 1024;
const cases: Array<[string, number, number, bigint, number, RequestAction]> = [
  // name, command, flags, offset, length, expected
  ['read inside', Command.READ, 0, 0n, 4096, { action: 'read', offset: 0, length: 4096 }],
  ['read up to the last byte', Command.READ, 0, BigInt(SIZE - 1), 1, { action: 'read', offset: SIZE - 1, length: 1 }],
  ['read with FUA (clients set it anyway)', Command.READ, CommandFlag.FUA, 0n, 1, { action: 'read', offset: 0, length: 1 }],
  ['read one byte past the end', Command.READ, 0, BigInt(SIZE - 1), 2, { action: 'reply', error: Errno.EINVAL }],
  ['read starting past the end', Command.READ, 0, BigInt(SIZE), 1, { action: 'reply', error: Errno.EINVAL }],
  ['read at offset 2^64 - 1', Command.READ, 0, (1n << 64n) - 1n, 1, { action: 'reply', error: Errno.EINVAL }],
  ['read of length 0', Command.READ, 0, 0n, 0, { action: 'reply', error: Errno.EINVAL }],
  ['read over 32 MiB', Command.READ, 0, 0n, 32 * MiB + 1, { action: 'reply', error: Errno.EINVAL }],
  ['read with DF (never negotiated)', Command.READ, CommandFlag.DF, 0n, 1, { action: 'reply', error: Errno.EINVAL }],
  ['write', Command.WRITE, 0, 0n, 512, { action: 'reply', error: Errno.EPERM }],
  ['trim', Command.TRIM, 0, 0n, 512, { action: 'reply', error: Errno.EPERM }],
  ['write zeroes', Command.WRITE_ZEROES, CommandFlag.NO_HOLE, 0n, 512, { action: 'reply', error: Errno.EPERM }],
  ['flush', Command.FLUSH, 0, 0n, 0, { action: 'reply', error: Errno.OK }],
  ['disconnect', Command.DISC, 0, 0n, 0, { action: 'disconnect' }],
  ['cache', Command.CACHE, 0, 0n, 512, { action: 'reply', error: Errno.EINVAL }],
  ['block status', Command.BLOCK_STATUS, 0, 0n, 512, { action: 'reply', error: Errno.EINVAL }],
  ['unknown command 200', 200, 0, 0n, 512, { action: 'reply', error: Errno.EINVAL }],
];

for (const [name, command, flags, offset, length, expected] of cases) {
  test(`request policy: ${name}`, () => {
    const got = decideRequest({ command, flags, offset, length, cookie: 1n }, SIZE);
    const { reason, ...rest } = got as RequestAction & { reason?: string };
    assert.deepEqual(rest, expected);
    if (got.action === 'reply' && got.error !== Errno.OK) assert.ok(reason, 'refusals say why');
  });
}
