import { ascii, opt, zeros } from './fixture-bytes.js';

/** A DHCPDISCOVER as iPXE (undionly.kpxe, chainloaded from a BIOS PXE ROM) sends it. */
export const IPXE_BIOS_MAC = '52:54:00:12:34:56';
export const IPXE_BIOS_UUID = Buffer.from('8a5f3c2e9b1d4e7fa0c1d2e3f4051627', 'hex');
export const ipxeBiosDiscover = Uint8Array.from([
  0x01,                                           // op: BOOTREQUEST
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x00,                                           // hops
  0x3c, 0x1d, 0x6a, 0x52,                         // xid
  0x00, 0x04,                                     // secs
  0x80, 0x00,                                     // flags: broadcast (iPXE always sets it)
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x00, 0x00, 0x00, 0x00,                         // yiaddr
  0x00, 0x00, 0x00, 0x00,                         // siaddr
  0x00, 0x00, 0x00, 0x00,                         // giaddr
  0x52, 0x54, 0x00, 0x12, 0x34, 0x56, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...zeros(128),                                  // file
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x01]),                             // message type: DISCOVER
  ...opt(57, [0x05, 0xc0]),                       // max message size: 1472
  ...opt(93, [0x00, 0x00]),                       // client arch: x86 BIOS
  ...opt(94, [0x01, 0x02, 0x01]),                 // client NDI: UNDI 2.1
  ...opt(97, [0x00, ...IPXE_BIOS_UUID]),          // client machine id: type 0 + SMBIOS UUID
  ...opt(60, ascii('PXEClient:Arch:00000:UNDI:002001')), // vendor class
  ...opt(77, ascii('iPXE')),                      // user class: bare string, not RFC 3004
  ...opt(55, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]), // parameter request list
  ...opt(175, [0x10, 0x01, 0x02, 0x13, 0x01, 0x01, 0x15, 0x01, 0x01, 0x17, 0x01, 0x01, 0x18, 0x01, 0x01]), // iPXE encapsulated feature flags
  ...opt(61, [0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), // client id: Ethernet + MAC
  0xff,                                           // end
]);
