import { ascii, opt, padTo, zeros } from './fixture-bytes.js';

/** A DHCPDISCOVER from UEFI HTTP boot (EDK II HttpBootDxe) on arm64: arch 19, "HTTPClient". */
export const AAVMF_HTTP_MAC = '52:54:00:aa:00:19';
export const aavmfHttpDiscover = padTo([
  0x01,                                           // op: BOOTREQUEST
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x00,                                           // hops
  0x00, 0xa6, 0x40, 0x19,                         // xid
  0x00, 0x00,                                     // secs
  0x00, 0x00,                                     // flags: none
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x00, 0x00, 0x00, 0x00,                         // yiaddr
  0x00, 0x00, 0x00, 0x00,                         // siaddr
  0x00, 0x00, 0x00, 0x00,                         // giaddr
  0x52, 0x54, 0x00, 0xaa, 0x00, 0x19, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...zeros(128),                                  // file
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x01]),                             // message type: DISCOVER
  ...opt(57, [0x05, 0xc0]),                       // max message size: 1472
  ...opt(55, [1, 3, 6, 12, 15, 28, 43, 60, 67]),  // parameter request list
  ...opt(97, [0x00, ...zeros(15), 0x19]),         // client machine id
  ...opt(94, [0x01, 0x03, 0x01]),                 // client NDI: UNDI 3.1
  ...opt(93, [0x00, 0x13]),                       // client arch: ARM 64-bit UEFI HTTP
  ...opt(60, ascii('HTTPClient:Arch:00019:UNDI:003001')), // vendor class
  0xff,                                           // end
], 300);
