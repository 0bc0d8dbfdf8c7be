import { ascii, opt, padTo, zeros } from './fixture-bytes.js';

/** A DHCPDISCOVER from OVMF's (EDK II) PXE base code on x64: arch 7, no user class. */
export const OVMF_PXE_MAC = '52:54:00:ab:cd:ef';
export const OVMF_PXE_UUID = Buffer.from('11223344556677889900aabbccddeeff', 'hex');
export const ovmfPxeDiscover = padTo([
  0x01,                                           // op: BOOTREQUEST
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x00,                                           // hops
  0x9a, 0x0b, 0x44, 0x17,                         // xid
  0x00, 0x00,                                     // secs
  0x80, 0x00,                                     // flags: broadcast
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x00, 0x00, 0x00, 0x00,                         // yiaddr
  0x00, 0x00, 0x00, 0x00,                         // siaddr
  0x00, 0x00, 0x00, 0x00,                         // giaddr
  0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...zeros(128),                                  // file
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x01]),                             // message type: DISCOVER
  ...opt(57, [0xff, 0x00]),                       // max message size: 65280
  ...opt(55, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]), // parameter request list
  ...opt(97, [0x00, ...OVMF_PXE_UUID]),           // client machine id
  ...opt(94, [0x01, 0x03, 0x00]),                 // client NDI: UNDI 3.0
  ...opt(93, [0x00, 0x07]),                       // client arch: x64 UEFI (RFC 4578's "EFI BC")
  ...opt(60, ascii('PXEClient:Arch:00007:UNDI:003000')), // vendor class
  0xff,                                           // end
], 300);
