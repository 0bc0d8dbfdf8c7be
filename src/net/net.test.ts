import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIpv4, ipv4ToHex, maskToPrefix, parseIpv4, prefixToMask, sameSubnet } from './ipv4.js';
import { macToHyphens, normalizeMac } from './mac.js';

test('ipv4 parse/format round trip and rejects junk', () => {
  assert.equal(parseIpv4('10.77.0.1'), 0x0a4d0001);
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
  for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', 'a.b.c.d', '']) assert.equal(parseIpv4(bad), undefined, bad);
});

test('netmask prefix conversions', () => {
  assert.equal(maskToPrefix('255.255.255.0'), 24);
  assert.equal(maskToPrefix('255.255.0.255'), undefined);
  assert.equal(maskToPrefix('0.0.0.0'), 0);
  assert.equal(prefixToMask(20), '255.255.240.0');
  assert.ok(sameSubnet('10.77.0.1', '10.77.0.200', '255.255.255.0'));
  assert.ok(!sameSubnet('10.77.1.1', '10.77.0.200', '255.255.255.0'));
});

test('pxelinux hex names', () => {
  assert.equal(ipv4ToHex('192.0.2.91'), 'C000025B'); // the example in pxelinux.doc
});

test('mac normalisation accepts the common spellings only', () => {
  for (const s of ['52:54:00:AB:cd:01', '52-54-00-ab-cd-01', '525400abcd01', '01-52-54-00-ab-cd-01']) {
    assert.equal(normalizeMac(s), '52:54:00:ab:cd:01', s);
  }
  for (const s of ['52:54:00:ab:cd', '52:54:00:ab:cd:0g', '52:54:00:ab:cd:01:02']) assert.equal(normalizeMac(s), undefined, s);
  assert.equal(macToHyphens('52:54:00:ab:cd:01'), '52-54-00-ab-cd-01');
});
