// Runs the compiled tests with node:test. `unit` = tests beside the code (no root needed),
// `e2e` = real QEMU boots in network namespaces (root), `all` = both.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
const files = which === 'unit' ? unit : which === 'e2e' ? e2e : [...unit, ...e2e];
if (files.length === 0) { console.error(`no ${which} test files found under dist/`); process.exit(1); }
files.sort();
// e2e files boot QEMU machines: run them one at a time (2 cores); units in parallel.
const args = ['--test', '--test-reporter=spec'];
if (which !== 'unit') args.push('--test-concurrency=1');
const r = spawnSync(process.execPath, [...args, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
