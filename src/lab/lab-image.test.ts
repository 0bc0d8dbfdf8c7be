import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ARM64_RECIPE, LAB_RECIPE, labImageKey } from './lab-image.js';

test('a recipe without other inputs keeps the key its cached images were built under', () => {
  assert.equal(labImageKey(LAB_RECIPE), createHash('sha256').update(JSON.stringify(LAB_RECIPE)).digest('hex').slice(0, 16));
});

test('an unpacked kernel\'s cache entry is part of the arm64 image\'s key: a new kernel, a new image', () => {
  const a = labImageKey(ARM64_RECIPE, ['/var/cache/diskless/arm64-parts-aaaa/root']);
  const b = labImageKey(ARM64_RECIPE, ['/var/cache/diskless/arm64-parts-bbbb/root']);
  assert.notEqual(a, b);
  assert.notEqual(a, labImageKey(ARM64_RECIPE));
  assert.equal(ARM64_RECIPE.kernel, 'unpacked');
  assert.ok(!ARM64_RECIPE.include.some((p) => p.startsWith('linux-image')), 'no kernel package installed under qemu-user');
});
