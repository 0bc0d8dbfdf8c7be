import { ascii, opt, zeros } from './fixture-bytes.js';
import { IPXE_BIOS_UUID } from './ipxe-bios-discover.js';

/**
 * The iPXE DISCOVER of ipxe-bios-discover.ts as ISC dhcrelay 4.4.3 (`dhcrelay -a -id rack1
 * -iu eth-up 10.1.0.1`) forwarded it to the server, captured in a lab namespace: hops counted
 * up, giaddr set to the relay's address on the client's link, and a Relay Agent Information
 * option (82) with the circuit id, the name of the interface it heard the client on, put in
 * place of the end option. dhcrelay sends no remote id unless built to.
 */
export const RELAYED_MAC = '52:54:00:12:34:56';
export const RELAY_GIADDR = '10.2.0.1';
export const RELAY_CIRCUIT = 'rack1';
export const relayedIpxeDiscover = Uint8Array.from([
  0x01,                                           // op: BOOTREQUEST
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x01,                                           // hops: one relay
  0x3c, 0x1d, 0x6a, 0x52,                         // xid
  0x00, 0x04,                                     // secs
  0x80, 0x00,                                     // flags: broadcast
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x00, 0x00, 0x00, 0x00,                         // yiaddr
  0x00, 0x00, 0x00, 0x00,                         // siaddr
  0x0a, 0x02, 0x00, 0x01,                         // giaddr: 10.2.0.1, the relay on the client's link
  0x52, 0x54, 0x00, 0x12, 0x34, 0x56, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...zeros(128),                                  // file
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x01]),                             // message type: DISCOVER
  ...opt(57, [0x05, 0xc0]),                       // max message size: 1472
  ...opt(93, [0x00, 0x00]),                       // client arch: x86 BIOS
  ...opt(94, [0x01, 0x02, 0x01]),                 // client NDI: UNDI 2.1
  ...opt(97, [0x00, ...IPXE_BIOS_UUID]),          // client machine id
  ...opt(60, ascii('PXEClient:Arch:00000:UNDI:002001')), // vendor class
  ...opt(77, ascii('iPXE')),                      // user class
  ...opt(55, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]), // parameter request list
  ...opt(175, [0x10, 0x01, 0x02, 0x13, 0x01, 0x01, 0x15, 0x01, 0x01, 0x17, 0x01, 0x01, 0x18, 0x01, 0x01]), // iPXE feature flags
  ...opt(61, [0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), // client id
  ...opt(82, [...opt(1, ascii('rack1'))]),        // relay agent information: circuit id "rack1"
  0xff,                                           // end
]);
