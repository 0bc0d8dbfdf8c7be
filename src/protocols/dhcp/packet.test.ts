import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDhcpPacket, encodeDhcpPacket, MAX_DHCP_PACKET_BYTES, type DhcpPacket } from './packet.js';
import { getOption } from './option-spec.js';
import { DhcpOption, printableOption } from './dhcp-options.js';
import { DhcpMessageType } from './message-types.js';
import { ClientArchType } from './arch-types.js';
import { ipxeBiosDiscover, IPXE_BIOS_UUID } from './testdata/ipxe-bios-discover.js';
import { ovmfPxeDiscover, OVMF_PXE_UUID } from './testdata/ovmf-pxe-discover.js';
import { uefiHttpDiscover } from './testdata/uefi-http-discover.js';
import { ascii, opt, padTo, zeros } from './testdata/fixture-bytes.js';

function decodeOk(bytes: Uint8Array): DhcpPacket {
  const result = decodeDhcpPacket(bytes);
  if (!result.ok) assert.fail(`expected a packet, got error: ${result.error}`);
  return result.packet;
}

function decodeError(bytes: Uint8Array): string {
  const result = decodeDhcpPacket(bytes);
  if (result.ok) assert.fail('expected an error result, got a packet');
  return result.error;
}

/** A 240-byte header+cookie with the given bytes as the options field. */
function withOptions(options: number[], header: Partial<{ file: number[]; sname: number[] }> = {}): Uint8Array {
  const fixed = [
    1, 1, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ...zeros(16),
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, ...zeros(10),
    ...(header.sname ?? zeros(64)),
    ...(header.file ?? zeros(128)),
    0x63, 0x82, 0x53, 0x63,
  ];
  return Uint8Array.from([...fixed, ...options]);
}

describe('decodeDhcpPacket golden packets', () => {
  it('decodes an iPXE BIOS DISCOVER', () => {
    const p = decodeOk(ipxeBiosDiscover);
    assert.equal(p.op, 1);
    assert.equal(p.xid, 0x3c1d6a52);
    assert.equal(p.secs, 4);
    assert.equal(p.flags, 0x8000);
    assert.equal(p.chaddr.subarray(0, p.hlen).toString('hex'), '525400123456');
    assert.equal(p.file, '');
    assert.equal(getOption(p, DhcpOption.messageType), DhcpMessageType.Discover);
    assert.equal(getOption(p, DhcpOption.maxMessageSize), 1472);
    assert.deepEqual(getOption(p, DhcpOption.clientArchitectures), [ClientArchType.BiosX86]);
    assert.deepEqual(getOption(p, DhcpOption.clientNetworkInterface), { type: 1, major: 2, minor: 1 });
    assert.deepEqual(getOption(p, DhcpOption.clientMachineId), { type: 0, guid: IPXE_BIOS_UUID });
    assert.equal(getOption(p, DhcpOption.vendorClassIdentifier), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual(getOption(p, DhcpOption.userClass), ['iPXE']);
    assert.deepEqual(getOption(p, DhcpOption.clientIdentifier), { type: 1, id: Buffer.from('525400123456', 'hex') });
    assert.equal(getOption(p, DhcpOption.parameterRequestList)?.[0], 1);
    assert.equal(p.options.get(175)?.length, 15);
    assert.deepEqual([...p.options.keys()], [53, 57, 93, 94, 97, 60, 77, 55, 175, 61]);
  });

  it('decodes an OVMF PXE DISCOVER (arch 7)', () => {
    const p = decodeOk(ovmfPxeDiscover);
    assert.equal(p.xid, 0x9a0b4417);
    assert.deepEqual(getOption(p, DhcpOption.clientArchitectures), [ClientArchType.EfiX64]);
    assert.equal(getOption(p, DhcpOption.vendorClassIdentifier), 'PXEClient:Arch:00007:UNDI:003000');
    assert.deepEqual(getOption(p, DhcpOption.clientMachineId)?.guid, OVMF_PXE_UUID);
    assert.equal(getOption(p, DhcpOption.userClass), undefined);
  });

  it('decodes a UEFI HTTP boot DISCOVER', () => {
    const p = decodeOk(uefiHttpDiscover);
    assert.deepEqual(getOption(p, DhcpOption.clientArchitectures), [ClientArchType.EfiX64Http]);
    assert.equal(getOption(p, DhcpOption.vendorClassIdentifier), 'HTTPClient:Arch:00016:UNDI:003001');
    assert.equal(p.flags, 0);
  });

  for (const [name, bytes] of [['iPXE', ipxeBiosDiscover], ['OVMF', ovmfPxeDiscover], ['HTTP', uefiHttpDiscover]] as const) {
    it(`re-encodes the ${name} golden packet byte for byte`, () => {
      assert.deepEqual(encodeDhcpPacket(decodeOk(bytes)), Buffer.from(bytes));
    });
  }
});

describe('options framing', () => {
  it('joins repeated options in order (RFC 3396)', () => {
    const p = decodeOk(withOptions([...opt(53, [1]), ...opt(55, [1, 3]), ...opt(12, ascii('ab')), ...opt(55, [6]), 255]));
    assert.deepEqual(getOption(p, DhcpOption.parameterRequestList), [1, 3, 6]);
    assert.deepEqual([...p.options.keys()], [53, 55, 12]);
  });

  it('splits values over 255 bytes into consecutive instances and joins them back', () => {
    const long = 'x'.repeat(600);
    const p = decodeOk(withOptions([...opt(53, [1]), 255]));
    p.options.set(17, Buffer.from(long));
    const bytes = encodeDhcpPacket(p);
    assert.deepEqual([bytes[240 + 3], bytes[240 + 4]], [17, 255]);
    assert.equal(getOption(decodeOk(bytes), DhcpOption.rootPath), long);
  });

  it('skips pads and ignores bytes after the end option', () => {
    const p = decodeOk(withOptions([0, 0, ...opt(53, [3]), 0, 255, 7, 7, 7]));
    assert.deepEqual([...p.options.keys()], [53]);
  });

  it('reads overloaded file then sname fields (option 52 = 3)', () => {
    const file = padTo([...opt(67, ascii('boot')), 255], 128);
    const sname = padTo([...opt(66, ascii('tftp')), ...opt(67, ascii('.efi'))], 64);
    const p = decodeOk(withOptions([...opt(53, [2]), ...opt(52, [3]), 255], { file: [...file], sname: [...sname] }));
    assert.equal(getOption(p, DhcpOption.bootfileName), 'boot.efi');
    assert.equal(getOption(p, DhcpOption.tftpServerName), 'tftp');
    assert.equal(p.file, '');
    assert.equal(p.sname, '');
    assert.equal(p.options.has(52), false);
  });

  it('keeps file as a string when only sname is overloaded', () => {
    const file = padTo(ascii('pxelinux.0'), 128);
    const sname = padTo([...opt(12, ascii('n1')), 255], 64);
    const p = decodeOk(withOptions([...opt(53, [1]), ...opt(52, [2]), 255], { file: [...file], sname: [...sname] }));
    assert.equal(p.file, 'pxelinux.0');
    assert.equal(getOption(p, DhcpOption.hostName), 'n1');
  });

  it('pads encoded replies to the 300-byte BOOTP minimum', () => {
    const p = decodeOk(withOptions([...opt(53, [5]), 255]));
    assert.equal(encodeDhcpPacket(p).length, 300);
  });

  it('refuses to encode what cannot be represented', () => {
    const p = decodeOk(withOptions([...opt(53, [5]), 255]));
    assert.throws(() => encodeDhcpPacket({ ...p, file: 'f'.repeat(128) }), RangeError);
    assert.throws(() => encodeDhcpPacket({ ...p, options: new Map([[255, Buffer.alloc(1)]]) }), RangeError);
    assert.throws(() => encodeDhcpPacket({ ...p, ciaddr: '10.0.0' }), RangeError);
  });
});

describe('decodeDhcpPacket malformed input', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty datagram', new Uint8Array(0), /truncated/],
    ['truncated header', ipxeBiosDiscover.subarray(0, 100), /truncated/],
    ['header without magic cookie', ipxeBiosDiscover.subarray(0, 236), /truncated/],
    ['wrong magic cookie', Uint8Array.from([...ipxeBiosDiscover.subarray(0, 236), 1, 2, 3, 4, 255]), /magic cookie/],
    ['invalid op', Uint8Array.from([9, ...ipxeBiosDiscover.subarray(1)]), /invalid op/],
    ['hlen over 16', Uint8Array.from([1, 1, 17, ...ipxeBiosDiscover.subarray(3)]), /hlen/],
    ['option length past the end', withOptions([...opt(53, [1]), 60, 40, ...ascii('PXEClient')]), /runs past the end/],
    ['option length byte missing', withOptions([...opt(53, [1]), 60]), /runs past the end/],
    ['missing end option', withOptions([...opt(53, [1])]), /no end option/],
    ['no options at all', withOptions([]), /no end option/],
    ['file field without NUL', withOptions([...opt(53, [1]), 255], { file: new Array<number>(128).fill(0x41) }), /file field is not NUL-terminated/],
    ['sname field without NUL', withOptions([...opt(53, [1]), 255], { sname: new Array<number>(64).fill(0x41) }), /sname field is not NUL-terminated/],
    ['10k options', withOptions([...new Array<number[]>(10_000).fill([12, 1, 0x41]).flat(), 255]), /too large/],
    ['huge datagram', new Uint8Array(65_000), /too large/],
    ['duplicate message type (joined to 2 bytes)', withOptions([...opt(53, [1]), ...opt(53, [3]), 255]), /option 53 has invalid length 2/],
    ['duplicate server id (joined to 8 bytes)', withOptions([...opt(54, [10, 0, 0, 1]), ...opt(54, [10, 0, 0, 2]), 255]), /option 54/],
    ['requested address of 3 bytes', withOptions([...opt(50, [10, 0, 0]), 255]), /option 50/],
    ['routers not a multiple of 4', withOptions([...opt(3, [10, 0, 0, 1, 10]), 255]), /option 3/],
    ['overload value 7', withOptions([...opt(52, [7]), 255]), /overload/],
    ['overload pointing at garbage', withOptions([...opt(52, [1]), 255], { file: [12, 200, ...zeros(126)] }), /file/],
    ['overload naming itself again', withOptions([...opt(52, [1]), 255], { file: [...opt(52, [2]), 255, ...zeros(124)] }), /repeated/],
  ];
  for (const [name, bytes, pattern] of cases) {
    it(`${name} → error result`, () => {
      assert.match(decodeError(bytes), pattern);
    });
  }

  it('accepts a packet exactly at the size cap', () => {
    const body = [...opt(53, [1]), 255];
    const bytes = padTo([...withOptions(body)], MAX_DHCP_PACKET_BYTES);
    assert.equal(decodeDhcpPacket(bytes).ok, true);
  });
});

it('an option\'s text from the wire is shown printable and capped', () => {
  assert.equal(printableOption('PXEClient:Arch:00007:UNDI:003016'), 'PXEClient:Arch:00007:UNDI:003016');
  assert.equal(printableOption('a\nb\x1b[31m\u00e9\0c'), 'a?b?[31m??c');
  assert.equal(printableOption('x'.repeat(300), 64), 'x'.repeat(64));
});
