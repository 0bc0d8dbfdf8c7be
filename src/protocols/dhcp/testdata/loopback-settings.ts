import type { DhcpSettings } from '../../../dhcp/settings.js';

/**
 * Full-mode settings for a DHCP server on 127.0.0.1 in tests. Port 0: the kernel picks free
 * ports, so parallel test files never collide; replies go to the test client's port.
 */
export function loopbackSettings(clientPort: number, overrides: Partial<DhcpSettings> = {}): DhcpSettings {
  return {
    mode: 'full',
    serverAddress: '127.0.0.1',
    network: '127.0.0.0',
    pool: { start: '127.0.0.100', end: '127.0.0.110' },
    subnetMask: '255.0.0.0',
    routers: ['127.0.0.254'],
    dnsServers: ['127.0.0.53'],
    leaseTimeSec: 3600,
    unknownClients: 'allow',
    bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
    ipxeScriptUrl: (mac) => `http://127.0.0.1/boot/${mac}.ipxe`,
    httpBootUrl: (arch) => `http://127.0.0.1/ipxe/${arch}.efi`,
    ports: { server: 0, client: clientPort, proxy: 0 },
    ...overrides,
  };
}
