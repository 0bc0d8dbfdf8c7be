import { ascii, opt, padTo, zeros } from './fixture-bytes.js';

/**
 * A DHCPDISCOVER from AAVMF's (EDK II for arm64) PXE base code: the same code as OVMF's, so the
 * same shape, with arch 11 (RFC 4578 registry: ARM 64-bit UEFI) in options 93 and 60.
 */
export const AAVMF_PXE_MAC = '52:54:00:aa:00:64';
export const aavmfPxeDiscover = padTo([
  0x01,                                           // op: BOOTREQUEST
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x00,                                           // hops
  0x3c, 0x51, 0x0e, 0x72,                         // xid
  0x00, 0x00,                                     // secs
  0x80, 0x00,                                     // flags: broadcast
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x00, 0x00, 0x00, 0x00,                         // yiaddr
  0x00, 0x00, 0x00, 0x00,                         // siaddr
  0x00, 0x00, 0x00, 0x00,                         // giaddr
  0x52, 0x54, 0x00, 0xaa, 0x00, 0x64, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...zeros(128),                                  // file
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x01]),                             // message type: DISCOVER
  ...opt(57, [0xff, 0x00]),                       // max message size: 65280
  ...opt(55, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]), // parameter request list
  ...opt(97, [0x00, ...zeros(15), 0x64]),         // client machine id
  ...opt(94, [0x01, 0x03, 0x00]),                 // client NDI: UNDI 3.0
  ...opt(93, [0x00, 0x0b]),                       // client arch: ARM 64-bit UEFI
  ...opt(60, ascii('PXEClient:Arch:00011:UNDI:003000')), // vendor class
  0xff,                                           // end
], 300);
