import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodePxeVendorOptions, encodePxeVendorOptions } from './pxe-vendor-options.js';
import { PxeDiscoveryControl, PxeSubOption } from './option-codes.js';

it('encodes PXE_DISCOVERY_CONTROL = boot from filename', () => {
  const bytes = encodePxeVendorOptions(new Map([[PxeSubOption.DiscoveryControl, Buffer.from([PxeDiscoveryControl.BootFromFilename])]]));
  assert.deepEqual(bytes, Buffer.from([6, 1, 8, 255]));
  assert.deepEqual(decodePxeVendorOptions(bytes), new Map([[6, Buffer.from([8])]]));
});

it('rejects sub-options that run past the option', () => {
  assert.equal(decodePxeVendorOptions(Buffer.from([6, 5, 8])), undefined);
});
