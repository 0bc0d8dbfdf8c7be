import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseKernelVersion, compareKernelVersions, listKernelVersions } from './kernel-version.js';
import { fakeRoot } from './testdata/fake-root.js';

test('kernel versions order by their numbers, not as strings', () => {
  assert.ok(compareKernelVersions('6.1.0-56-amd64', '6.1.0-9-amd64') > 0);
  assert.ok(compareKernelVersions('6.10.0-1-amd64', '6.9.12-amd64') > 0);
  assert.equal(compareKernelVersions('6.1.0-56-amd64', '6.1.0-56-cloud-amd64'), 0);
});

test('the only kernel, the one /vmlinuz names, the newest, or an error listing the choices', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  await assert.rejects(chooseKernelVersion(fake.root), /no .*lib\/modules\/VERSION\/modules.dep \(the image needs a kernel package\)/);
  fake.file('/lib/modules/6.1.0-9-amd64/modules.dep');
  fake.file('/lib/modules/6.1.0-9-amd64.old-leftover/x'); // no modules.dep: not a choice
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-9-amd64');
  fake.file('/lib/modules/6.1.0-56-amd64/modules.dep');
  assert.deepEqual(await listKernelVersions(fake.root), ['6.1.0-56-amd64', '6.1.0-9-amd64']);
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-56-amd64');
  fake.file('/lib/modules/6.1.0-56-cloud-amd64/modules.dep');
  await assert.rejects(chooseKernelVersion(fake.root), /has modules for 6\.1\.0-56-amd64, 6\.1\.0-56-cloud-amd64, 6\.1\.0-9-amd64; name one/);
  fake.file('/boot/vmlinuz-6.1.0-9-amd64');
  fake.link('/vmlinuz', 'boot/vmlinuz-6.1.0-9-amd64');
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-9-amd64');
});
