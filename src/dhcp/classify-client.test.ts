import { it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyClient } from './classify-client.js';
import { decodeDhcpPacket, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { ipxeBiosDiscover, IPXE_BIOS_UUID } from '../protocols/dhcp/testdata/ipxe-bios-discover.js';
import { ovmfPxeDiscover } from '../protocols/dhcp/testdata/ovmf-pxe-discover.js';
import { uefiHttpDiscover } from '../protocols/dhcp/testdata/uefi-http-discover.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';

function decoded(bytes: Uint8Array): DhcpPacket {
  const r = decodeDhcpPacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

it('classifies iPXE on BIOS', () => {
  assert.deepEqual(classifyClient(decoded(ipxeBiosDiscover)), {
    mac: '52:54:00:12:34:56', arch: 'bios', archType: 0, isPxe: true, isIpxe: true, isHttpClient: false, uuid: IPXE_BIOS_UUID,
  });
});

it('classifies OVMF PXE as EFI x64, not iPXE', () => {
  const c = classifyClient(decoded(ovmfPxeDiscover));
  assert.equal(c.mac, '52:54:00:ab:cd:ef');
  assert.equal(c.arch, 'efi-x64');
  assert.equal(c.isPxe, true);
  assert.equal(c.isIpxe, false);
});

it('classifies UEFI HTTP boot', () => {
  const c = classifyClient(decoded(uefiHttpDiscover));
  assert.equal(c.arch, 'efi-x64');
  assert.equal(c.isHttpClient, true);
  assert.equal(c.isPxe, false);
});

it('maps the arch registry', () => {
  const cases: Array<[number, string]> = [[0, 'bios'], [6, 'efi-ia32'], [7, 'efi-x64'], [9, 'efi-x64'], [10, 'unknown'], [11, 'efi-arm64'], [15, 'efi-ia32'], [16, 'efi-x64'], [19, 'efi-arm64'], [27, 'unknown']];
  for (const [arch, expected] of cases) {
    assert.equal(classifyClient(clientPacket({ type: 1, mac: 'AA:BB:CC:DD:EE:FF', arch })).arch, expected, `arch ${arch}`);
  }
});

it('falls back to the arch in option 60 when option 93 is missing', () => {
  const c = classifyClient(clientPacket({ type: 1, mac: '00:11:22:33:44:55', vendorClass: 'PXEClient:Arch:00011:UNDI:003000' }));
  assert.equal(c.arch, 'efi-arm64');
});

it('treats a plain DHCP client as unknown arch, no PXE', () => {
  const c = classifyClient(clientPacket({ type: 1, mac: '00:11:22:33:44:55', vendorClass: 'udhcp 1.35.0' }));
  assert.deepEqual(c, { mac: '00:11:22:33:44:55', arch: 'unknown', isPxe: false, isIpxe: false, isHttpClient: false });
});

it('finds iPXE among RFC 3004 user classes', () => {
  assert.equal(classifyClient(clientPacket({ type: 1, mac: '00:11:22:33:44:55', userClass: '\x03lab\x04iPXE' })).isIpxe, true);
});
