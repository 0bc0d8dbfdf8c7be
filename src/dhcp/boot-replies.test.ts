// Golden bytes of the DHCP answers per firmware architecture and loader: each case of
// testdata/boot-reply-cases.ts, decided by the real policy from a parsed config, encoded, and
// compared byte for byte with testdata/boot-replies.ts. A changed answer shows as a changed
// hex string, field by field in the decoded view printed beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideDhcpReply } from './policy.js';
import { LeaseStore } from './lease-store.js';
import { encodeDhcpPacket, decodeDhcpPacket } from '../protocols/dhcp/packet.js';
import { BOOT_REPLY_CASES } from './testdata/boot-reply-cases.js';
import { BOOT_REPLIES } from './testdata/boot-replies.js';

const NOW = Date.UTC(2026, 0, 1);

function replyHex(input: (typeof BOOT_REPLY_CASES)[number]['input']): string {
  const decision = decideDhcpReply({ ...input(), leases: new LeaseStore({ now: () => NOW }) });
  if (!decision.reply) assert.fail(`no reply: ${decision.reason}`);
  return encodeDhcpPacket(decision.reply).toString('hex');
}

test('every golden answer has a case and every case a golden answer', () => {
  assert.deepEqual(Object.keys(BOOT_REPLIES).sort(), BOOT_REPLY_CASES.map((c) => c.name).sort());
});

for (const c of BOOT_REPLY_CASES) {
  test(`golden DHCP answer: ${c.name}`, () => {
    const got = replyHex(c.input);
    const want = BOOT_REPLIES[c.name];
    if (got !== want) {
      const show = (hex: string | undefined) => {
        if (hex === undefined) return 'none';
        const r = decodeDhcpPacket(Buffer.from(hex, 'hex'));
        return r.ok ? JSON.stringify({ ...r.packet, options: [...r.packet.options.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]) }) : r.error;
      };
      assert.fail(`${c.name}\n got ${got}\n want ${want ?? 'none'}\n got  decoded ${show(got)}\n want decoded ${show(want)}`);
    }
  });
}
