import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { expandExecStart, parseEnvironmentFile, parseServiceUnit, setprivArgs } from './service-unit.js';

const UNIT = readFileSync(new URL('../../../packaging/diskless.service', import.meta.url), 'utf8');

test('the package unit: ExecStart, environment, and only the two capabilities serve needs', () => {
  const unit = parseServiceUnit(UNIT);
  assert.deepEqual(unit.execStart, ['/usr/bin/diskless', 'serve', '$DISKLESS_OPTS']);
  assert.deepEqual(unit.environment, [['DISKLESS_CONFIG', '/etc/diskless/diskless.yaml'], ['DISKLESS_CACHE', '/var/cache/diskless']]);
  assert.deepEqual(unit.environmentFiles, [{ path: '/etc/default/diskless', optional: true }]);
  assert.deepEqual(unit.capabilityBoundingSet, ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']);
  assert.equal(unit.noNewPrivileges, true);
  assert.deepEqual(setprivArgs(unit), ['--bounding-set=-all,+net_bind_service,+net_raw', '--inh-caps=-all', '--no-new-privs']);
  assert.match(UNIT, /^Restart=on-failure$/m);
  assert.match(UNIT, /^ProtectSystem=strict$/m);
  assert.match(UNIT, /^PrivateTmp=yes$/m);
});

test('ExecStart expansion as systemd does it: a lone $VAR splits and may vanish, ${VAR} stays one word', () => {
  assert.deepEqual(expandExecStart(['/usr/bin/diskless', 'serve', '$DISKLESS_OPTS'], { DISKLESS_OPTS: '' }), ['/usr/bin/diskless', 'serve']);
  assert.deepEqual(expandExecStart(['/usr/bin/diskless', 'serve', '$DISKLESS_OPTS'], { DISKLESS_OPTS: '--debug  -c /x' }), ['/usr/bin/diskless', 'serve', '--debug', '-c', '/x']);
  assert.deepEqual(expandExecStart(['--config=${C}'], { C: '/a b' }), ['--config=/a b']);
});

test('environment files: assignments, comments, quotes', () => {
  assert.deepEqual(parseEnvironmentFile('# c\n#DISKLESS_CONFIG=/x\nDISKLESS_OPTS=\nA="b c"\n  B=\'d\'\n'), [['DISKLESS_OPTS', ''], ['A', 'b c'], ['B', 'd']]);
});

test('a unit without ExecStart is refused', () => {
  assert.throws(() => parseServiceUnit('[Service]\nType=exec\n'), /no ExecStart/);
});
