// Runs the compiled tests with node:test, from the repository root (the working directory).
// `unit` = the tests beside the code (dist/src); most need no root, but those that create
// network namespaces and veth pairs (udhcpc against the DHCP server, a dead NBD peer), chroot
// (image shells, initrd builds, node files unpacked in a node root) or bind mounts skip
// without it, and a skip fails the run (below). `e2e` = real QEMU boots in network namespaces
// (root). `all` = both.
//
// tsc never deletes an output whose source is gone, so `npm run build` empties dist/ first;
// should a dist/ built some other way hold a compiled test whose .ts no longer exists, the run
// is refused rather than running a test nobody can read.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const which = process.argv[2] ?? 'all';
function find(dir, out = []) {
  let names = [];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) find(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const unit = find('dist/src');
const e2e = find('dist/test/e2e');
if (unit.length === 0 || e2e.length === 0) { console.error('no test files found under dist/: run npm run build'); process.exit(1); }
// dist/src/a/b.test.js is compiled from src/a/b.test.ts.
const stale = [...unit, ...e2e].filter((f) => !existsSync(relative('dist', f).replace(/\.js$/, '.ts')));
if (stale.length > 0) {
  console.error(`dist/ holds ${stale.length} compiled test(s) whose source .ts no longer exists:`);
  for (const f of stale.sort()) console.error(`  ${f} (no ${relative('dist', f).replace(/\.js$/, '.ts')})`);
  console.error('Build from a clean dist/ (npm run build empties it first), then run the tests again.');
  process.exit(1);
}
// Unit files run two at a time: many of them wait on child processes, timers and sockets, so
// two keep both cores busy (node's default, cores - 1, runs them one by one on 2 cores).
// e2e files boot QEMU machines, so one at a time.
const batches = which === 'unit' ? [[unit, false]] : which === 'e2e' ? [[e2e, true]] : [[unit, false], [e2e, true]];
// A second reporter writes TAP to a file so skips can be counted: a skipped test is not a
// passing one, so any skip fails the run unless DISKLESS_ALLOW_SKIP=1 (e.g. a non-root dev box).
let status = 0;
let tap = '';
for (const [files, serial] of batches) {
  const tapFile = join(mkdtempSync(join(tmpdir(), 'diskless-tests-')), 'results.tap');
  const args = ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`];
  args.push(`--test-concurrency=${serial ? 1 : Math.max(2, availableParallelism() - 1)}`);
  const r = spawnSync(process.execPath, [...args, ...files.sort()], { stdio: 'inherit' });
  status ||= r.status ?? 1;
  tap += existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
}
const skipped = tap.split('\n').filter((l) => /^\s*(ok|not ok) \d+ .*# SKIP/.test(l));
if (skipped.length > 0 && process.env.DISKLESS_ALLOW_SKIP !== '1') {
  console.error(`\n${skipped.length} test(s) were skipped; a skipped test is not a pass:`);
  for (const l of skipped) console.error(`  ${l.trim()}`);
  console.error('Run as root with scripts/install-deps.sh done, or set DISKLESS_ALLOW_SKIP=1 to accept skips locally.');
  process.exit(1);
}
const sum = (key) => [...tap.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
console.log(`\ntotal: ${sum('pass')} passed, ${sum('fail')} failed`);
process.exit(status);
