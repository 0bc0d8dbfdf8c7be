// scripts/run-tests.mjs on a made-up repository. tsc never deletes an output whose source is
// gone, so a compiled test left in dist/ after its .ts was deleted must not run as if it were
// still part of the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../../scripts/run-tests.mjs');
const PASSING = "import { test } from 'node:test';\ntest('passes', () => {});\n";

function repository(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dl-run-tests-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function runTests(dir: string, which: string): { status: number | null; out: string; err: string } {
  // Without NODE_TEST_CONTEXT, which node --test sets for the files it runs: the runner's own
  // node --test would otherwise report to this test instead of printing its results.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [SCRIPT, which], { cwd: dir, encoding: 'utf8', env: { ...env, DISKLESS_ALLOW_SKIP: '' } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const BUILT = {
  'src/a/x.test.ts': '', 'dist/src/a/x.test.js': PASSING,
  'test/e2e/y.test.ts': '', 'dist/test/e2e/y.test.js': PASSING,
};

test('runs the compiled tests whose sources exist', (t) => {
  const dir = repository(BUILT);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = runTests(dir, 'unit');
  assert.equal(r.status, 0, r.out + r.err);
  assert.match(r.out, /^total: 1 passed, 0 failed$/m);
});

test('refuses to run when dist/ holds a compiled test whose source .ts is gone, and names it', (t) => {
  // The stale test would leave a mark if it ran.
  const dir = repository({
    ...BUILT,
    'dist/src/gone/old.test.js': "import { writeFileSync } from 'node:fs';\nwriteFileSync('RAN', '');\n",
    'dist/test/e2e/old-boot.test.js': "import { writeFileSync } from 'node:fs';\nwriteFileSync('RAN', '');\n",
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const which of ['unit', 'e2e', 'all']) {
    const r = runTests(dir, which);
    assert.equal(r.status, 1, which);
    assert.match(r.err, /^dist\/ holds 2 compiled test\(s\) whose source \.ts no longer exists:$/m, which);
    assert.match(r.err, /^ {2}dist\/src\/gone\/old\.test\.js \(no src\/gone\/old\.test\.ts\)$/m, which);
    assert.match(r.err, /^ {2}dist\/test\/e2e\/old-boot\.test\.js \(no test\/e2e\/old-boot\.test\.ts\)$/m, which);
    assert.match(r.err, /npm run build empties it first/, which);
    assert.equal(existsSync(join(dir, 'RAN')), false, `${which}: no test ran`);
  }
});

test('npm run build starts from an empty dist/', () => {
  const pkg = JSON.parse(readFileSync(resolve(SCRIPT, '../../package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['build'] ?? '', /^rm -rf dist && tsc -p \.$/);
});
