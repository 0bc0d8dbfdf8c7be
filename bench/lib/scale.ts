/**
 * How big every benchmark runs. `quick` is for development on a loaded 2-CPU machine (seconds
 * per case); `full` is sized like a site's boot traffic: tens of clients at once, 5,000 DHCP
 * clients, a 1 GiB NBD image (minutes per case).
 */
export interface Scale {
  name: 'quick' | 'full';
  /** Repeats of each (server, case); the median is reported. */
  repeats: number;
  tftpFileMB: number;
  tftpConcurrentClients: number;
  tftpConcurrentFileMB: number;
  httpClients: number;
  httpFileMB: number;
  nbdImageMB: number;
  nbdRandomReads: number;
  dhcpClients: number;
  /** A second, larger DHCP avalanche, reported beside the first (leases persisted alike). */
  dhcpLargeClients: number;
  /** QEMU machines booted at once in the boot benchmark. */
  bootNodes: number;
  /** Replayed nodes per storm, smallest first (bench/storm.ts). */
  stormNodes: number[];
  /** Rounds of each storm (the median is reported). */
  stormRepeats: number;
  /**
   * Recorded think time (the node's own work between requests, timed under QEMU TCG) is waited
   * out times this: 1 replays the recorded boot; 0 leaves only the server's and link's cost.
   */
  stormThinkScale: number;
}

export const QUICK: Scale = {
  name: 'quick',
  repeats: 3,
  tftpFileMB: 8,
  tftpConcurrentClients: 5,
  tftpConcurrentFileMB: 4,
  httpClients: 5,
  httpFileMB: 32,
  nbdImageMB: 64,
  nbdRandomReads: 2000,
  dhcpClients: 500,
  dhcpLargeClients: 2000,
  bootNodes: 1,
  stormNodes: [10, 50],
  stormRepeats: 1,
  stormThinkScale: 0,
};

export const FULL: Scale = {
  name: 'full',
  repeats: 5,
  tftpFileMB: 50,
  tftpConcurrentClients: 50,
  tftpConcurrentFileMB: 30,
  httpClients: 50,
  httpFileMB: 300,
  nbdImageMB: 1024,
  nbdRandomReads: 20000,
  dhcpClients: 5000,
  dhcpLargeClients: 20000,
  bootNodes: 4,
  stormNodes: [10, 100, 1000],
  // One round: a 1,000-node live-root storm moves 136 GB, about 18 minutes at 1 Gbit/s per stack.
  stormRepeats: 1,
  // QEMU TCG runs guest code roughly ten times slower than hardware (an estimate, not measured).
  stormThinkScale: 0.1,
};
