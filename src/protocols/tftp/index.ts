// The TFTP service's public surface; everything else in this folder is internal.
export { TftpServer } from './server.js';
export type { Peer, TftpEvent, TftpServerOptions, UdpSocketFactory, VirtualFile, VirtualFileProvider } from './server.js';
export { decodeTftpPacket, type DecodeResult } from './decode.js';
export { encodeTftpPacket } from './encode.js';
export { ErrorCode, Opcode, type TftpOption, type TftpPacket } from './packet.js';
