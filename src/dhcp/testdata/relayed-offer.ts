import { ascii, opt, zeros } from '../../protocols/dhcp/testdata/fixture-bytes.js';
import { IPXE_BIOS_UUID } from '../../protocols/dhcp/testdata/ipxe-bios-discover.js';

const SCRIPT_URL = 'http://10.1.0.1/boot/52-54-00-12-34-56.ipxe';

/**
 * The OFFER for relayed-discover.ts (option 82 echoed) when 10.2.0.0/24 is a subnet behind that relay (pool from
 * 10.2.0.100, router 10.2.0.1, domain rack2.test) and the server is 10.1.0.1: every field
 * written out, so a change in what goes back to a relay shows here byte by byte.
 */
export const relayedIpxeOffer = Uint8Array.from([
  0x02,                                           // op: BOOTREPLY
  0x01,                                           // htype: Ethernet
  0x06,                                           // hlen
  0x00,                                           // hops: 0 in every server reply (RFC 2131 table 3)
  0x3c, 0x1d, 0x6a, 0x52,                         // xid: the client's
  0x00, 0x00,                                     // secs
  0x80, 0x00,                                     // flags: the client's broadcast bit, for the relay
  0x00, 0x00, 0x00, 0x00,                         // ciaddr
  0x0a, 0x02, 0x00, 0x64,                         // yiaddr: 10.2.0.100, from the relayed subnet's pool
  0x0a, 0x01, 0x00, 0x01,                         // siaddr: 10.1.0.1, the subnet's boot server
  0x0a, 0x02, 0x00, 0x01,                         // giaddr: the relay's, copied (RFC 2131 table 3)
  0x52, 0x54, 0x00, 0x12, 0x34, 0x56, ...zeros(10), // chaddr
  ...zeros(64),                                   // sname
  ...ascii(SCRIPT_URL), ...zeros(128 - SCRIPT_URL.length), // file: the node's iPXE script at its subnet's server
  0x63, 0x82, 0x53, 0x63,                         // magic cookie
  ...opt(53, [0x02]),                             // message type: OFFER
  ...opt(54, [10, 1, 0, 1]),                      // server identifier: 10.1.0.1
  ...opt(1, [255, 255, 255, 0]),                  // subnet mask of 10.2.0.0/24
  ...opt(3, [10, 2, 0, 1]),                       // router: 10.2.0.1, on the client's link
  ...opt(6, [10, 1, 0, 53]),                      // DNS server
  ...opt(15, ascii('rack2.test')),                // domain name of the relayed subnet
  ...opt(66, ascii('10.1.0.1')),                  // TFTP server name
  ...opt(67, ascii(SCRIPT_URL)),                  // boot file name
  ...opt(51, [0x00, 0x00, 0x0e, 0x10]),           // lease time: 3600 s
  ...opt(61, [0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), // client id, echoed (RFC 6842)
  ...opt(97, [0x00, ...IPXE_BIOS_UUID]),          // client machine id, echoed (PXE)
  ...opt(82, [...opt(1, ascii('rack1'))]),        // relay agent information, echoed last and verbatim (RFC 3046 §2.2)
  0xff,                                           // end
]);
