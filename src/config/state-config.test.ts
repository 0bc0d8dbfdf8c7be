import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';

const BASE = `server:
  address: 10.77.0.1
  state_dir: /var/lib/diskless
profiles:
  default: { kernel: /boot/vmlinuz }
`;

const parse = (state: string) => parseConfig(`${BASE}${state}`, '/etc/diskless/config.yaml');

test('state: absent or files keeps JSON files under state_dir', () => {
  assert.deepEqual(parseConfig(BASE, '/etc/d.yaml').state, { backend: 'files' });
  assert.deepEqual(parse('state: files\n').state, { backend: 'files' });
});

test('state: a postgres URL, TLS verified by default off-host, none over a socket or loopback', () => {
  assert.deepEqual(parse('state: postgres://diskless@db1.example:5433/fleet\n').state, {
    backend: 'postgres', url: 'postgres://diskless@db1.example:5433/fleet', host: 'db1.example', port: 5433, database: 'fleet',
    user: 'diskless', passwordEnv: 'PGPASSWORD', tls: 'verify-full', offlineGraceSec: 600,
  });
  const socket = parse('state: postgres://diskless@/fleet?host=/run/postgresql\n').state;
  assert.equal(socket.backend === 'postgres' && socket.host, '/run/postgresql');
  assert.equal(socket.backend === 'postgres' && socket.tls, 'off');
  const socketPort = parse('state: postgres://diskless@:5433/fleet?host=/run/postgresql\n').state;
  assert.deepEqual(socketPort.backend === 'postgres' && [socketPort.host, socketPort.port, socketPort.database], ['/run/postgresql', 5433, 'fleet']);
  const loop = parse('state: postgresql://diskless@127.0.0.1/fleet\n').state;
  assert.equal(loop.backend === 'postgres' && loop.tls, 'off');
});

test('state: as a mapping, with a password file and CA relative to the config', () => {
  const s = parse(`state:
  url: postgres://diskless@db1.example/fleet
  password_file: db-password
  ca_file: /etc/ssl/db-ca.pem
  offline_grace: 120
`).state;
  assert.deepEqual(s, {
    backend: 'postgres', url: 'postgres://diskless@db1.example/fleet', host: 'db1.example', port: 5432, database: 'fleet', user: 'diskless',
    passwordEnv: 'PGPASSWORD', tls: 'verify-full', offlineGraceSec: 120, passwordFile: '/etc/diskless/db-password', caFile: '/etc/ssl/db-ca.pem',
  });
});

test('state.secrets_key_file: relative to the config; absent means the default under state_dir', () => {
  const s = parse('state:\n  url: postgres://diskless@db1.example/fleet\n  secrets_key_file: keys/secrets.key\n').state;
  assert.equal(s.backend === 'postgres' && s.secretsKeyFile, '/etc/diskless/keys/secrets.key');
  const d = parse('state: postgres://diskless@db1.example/fleet\n').state;
  assert.equal(d.backend === 'postgres' && d.secretsKeyFile, undefined);
});

test('state: refusals name the line and say what to do', () => {
  assert.throws(() => parse('state: postgres://diskless:hunter2@db1/fleet\n'), /config\.yaml:6: state: holds a password: put it in a file named by state\.password_file/);
  assert.throws(() => parse('state: mysql://x@y/z\n'), /state: "mysql:\/\/x@y\/z" is neither "files" nor a postgres:\/\/USER@HOST\/DATABASE URL/);
  assert.throws(() => parse('state: postgres://diskless@db1/\n'), /names no database/);
  assert.throws(() => parse('state: postgres://db1/fleet\n'), /names no user/);
  assert.throws(() => parse('state: postgres://d@db1/fleet?sslmode=require\n'), /sslmode in the URL is not read: say state\.tls/);
  assert.throws(() => parse('state:\n  url: postgres://d@/f?host=/run/pg\n  tls: require\n'), /config\.yaml:8: state\.tls: a unix socket carries no TLS/);
  assert.throws(() => parse('state:\n  url: postgres://d@db1/f\n  tls: require\n  ca_file: /ca\n'), /state\.ca_file: only verify-full checks/);
  assert.throws(() => parse('state:\n  url: postgres://d@db1/f\n  pasword_file: /p\n'), /state\.pasword_file: unknown setting/);
});
