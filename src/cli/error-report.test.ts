import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DisklessError } from '../errors/diskless-error.js';
import { ConfigError } from '../config/yaml-fields.js';
import { StoreError } from '../images/store/image-store.js';
import { EXIT_FAILURE, EXIT_USAGE, reportError } from './error-report.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

function report(e: unknown, prefix?: string): { status: number; text: string } {
  let text = '';
  const status = reportError(e, (s) => (text += s), prefix);
  return { status, text };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

test('a DisklessError is its message on one line; DL_USAGE exits 2, every other code 1', () => {
  assert.deepEqual(report(new DisklessError('DL_USAGE', 'unknown command "x"')), { status: EXIT_USAGE, text: 'diskless: unknown command "x"\n' });
  assert.deepEqual(report(new DisklessError('DL_INVALID', 'node add: --mac MAC is required')), { status: EXIT_FAILURE, text: 'diskless: node add: --mac MAC is required\n' });
  assert.deepEqual(
    report(new StoreError('DL_STORE_NOT_FOUND', 'Image web has no published version'), 'diskless image rollback'),
    { status: EXIT_FAILURE, text: 'diskless image rollback: Image web has no published version\n' },
  );
  // A message that ends with a help text keeps its own final newline, no blank line added.
  assert.equal(report(new DisklessError('DL_USAGE', 'unknown command "x"\n\nUsage: …\n')).text, 'diskless: unknown command "x"\n\nUsage: …\n');
  assert.deepEqual([EXIT_FAILURE, EXIT_USAGE], [1, 2]);
});

test('a config error reads "diskless: config error:" whichever command found it', () => {
  const e = new ConfigError('/etc/diskless.yaml', 8, 'dhcp.mode', 'must be one of full, proxy, off (got "fll")');
  assert.deepEqual(report(e, 'diskless image list'), {
    status: EXIT_FAILURE,
    text: 'diskless: config error: /etc/diskless.yaml:8: dhcp.mode: must be one of full, proxy, off (got "fll")\n',
  });
});

test('an option parseArgs refuses is a usage error; a refused system call is a failure; neither shows a stack', () => {
  const parse = thrown(() => parseArgs({ args: ['--bogus'], options: {}, strict: true }));
  const usage = report(parse, 'diskless node');
  assert.equal(usage.status, EXIT_USAGE);
  assert.match(usage.text, /^diskless node: Unknown option '--bogus'/);
  assert.doesNotMatch(usage.text, /\n\s+at /);

  const system = thrown(() => readFileSync('/nonexistent/diskless.yaml'));
  const failed = report(system);
  assert.deepEqual(failed, { status: EXIT_FAILURE, text: "diskless: ENOENT: no such file or directory, open '/nonexistent/diskless.yaml'\n" });
});

test('anything else is a bug: its message, then its stack', () => {
  const bug = report(new TypeError("Cannot read properties of undefined (reading 'mac')"));
  assert.equal(bug.status, EXIT_FAILURE);
  const [first, second, ...frames] = bug.text.split('\n');
  assert.equal(first, "diskless: Cannot read properties of undefined (reading 'mac')");
  assert.equal(second, "TypeError: Cannot read properties of undefined (reading 'mac')");
  assert.match(frames[0] ?? '', /^\s+at .*error-report\.test\.js/);
  assert.deepEqual(report('a thrown string'), { status: EXIT_FAILURE, text: 'diskless: a thrown string\n' });
});

test('the diskless command exits 2 for a command line it cannot parse, 1 for a refused request', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const unknown = cli('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^diskless: unknown command "frobnicate"\n\ndiskless — boot server/);
  assert.doesNotMatch(unknown.stderr, /\n\s+at /);
  const option = cli('node', 'list', '--bogus');
  assert.equal(option.status, 2);
  assert.match(option.stderr, /^diskless: Unknown option '--bogus'/);
  const config = cli('node', 'list', '--config', '/nonexistent/diskless.yaml');
  assert.equal(config.status, 1);
  assert.match(config.stderr, /^diskless: config error: \/nonexistent\/diskless\.yaml: \(file\): cannot read config/);
  assert.doesNotMatch(config.stderr, /\n\s+at /);
});
