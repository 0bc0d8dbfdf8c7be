// One real node watched through every view of its boot the server offers: its first boot
// fails (a wrong image hash) and the API, /metrics and the dashboard in real Chromium say
// where and why; the admin fixes the node through the API; the reboot succeeds and the page
// follows it live; an unknown machine's DHCP request (busybox udhcpc) shows under Discovered
// and is adopted through the dashboard's form into the YAML inventory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { LAB_ADMIN_URL } from '../../src/lab/tiny-lab.js';
import { launchChromium } from '../../src/lab/browser.js';
import { checkExposition, parseSamples, sampleValue } from '../../src/metrics/testdata/prometheus-text.js';

const MINUTES = 60_000;
const BAD_SHA = 'b'.repeat(64);
const STRANGER = '52:54:00:77:00:99';
type Json = Record<string, unknown> & { timeline?: Array<Record<string, unknown>> };

const row = (mac: string) => `#fleet-table tr[data-mac="${mac}"]`;

test('a failed boot and a good one, seen in the API, /metrics and the dashboard', { timeout: 20 * MINUTES }, async (t) => {
  const lab = await DebianLab.start({ mode: 'live', fromStore: true, retry: 8, nodeCmdline: `rd.diskless.sha256=${BAD_SHA}`, foreignHost: true });
  t.after(() => lab.stop());
  const api = async (path: string, init: RequestInit = {}) => {
    const r = await lab.net.exec(lab.net.name, ['curl', '-s', '-w', '\n%{http_code}', '-X', init.method ?? 'GET',
      ...Object.entries((init.headers ?? {}) as Record<string, string>).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      ...(init.body ? ['-H', 'content-type: application/json', '--data-binary', String(init.body)] : []),
      `${LAB_ADMIN_URL}${path}`], { check: false });
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), text: r.stdout.slice(0, cut) };
  };
  const node = async () => JSON.parse((await api(`/api/v1/nodes/${lab.mac}`)).text) as Json;

  const pageErrors: string[] = [];
  const chrome = await launchChromium({ netns: lab.net.name, onPageError: (e) => pageErrors.push(e) });
  t.after(() => chrome.close());
  const page: Page = await chrome.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${LAB_ADMIN_URL}/`);
  await page.waitForSelector('#live[data-state="live"]');
  await page.waitForSelector(row(lab.mac));
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));

  // Boot 1: the image hash on the node's command line is wrong; /init gives up in root.
  await lab.vm.waitFor(/FAILED in stage 'root'/, 6 * MINUTES);
  await page.waitForSelector(`${row(lab.mac)}[data-status="failed"]`, { timeout: 60_000 });
  const failed = await node();
  assert.equal(failed['status'], 'failed');
  assert.equal(failed['stage'], 'root');
  assert.match(String(failed['cause']), /image checksum mismatch: got sha256 [0-9a-f]{64}, want b{64}/);
  await page.click(`${row(lab.mac)} td.hostname a`);
  await page.waitForSelector('#timeline svg g.stage[data-stage="root"][data-status="failed"]');
  assert.match(await page.locator('#failure').innerText(), /Failed in stage root: gave up after \d+ attempts.*image checksum mismatch/s);
  await chrome.screenshot(page, 'lab-failed-timeline');

  // The admin removes the bad argument through the API (refused without the token), then
  // resets the node from its rescue shell.
  const token = (await readFile(join(lab.stateDir, 'admin-token'), 'utf8')).trim();
  const change = JSON.stringify({ cmdline: null });
  assert.equal((await api(`/api/v1/nodes/${lab.mac}`, { method: 'POST', body: change })).status, 401);
  const fixed = await api(`/api/v1/nodes/${lab.mac}`, { method: 'POST', body: change, headers: { authorization: `Bearer ${token}` } });
  assert.equal(fixed.status, 200, fixed.text);
  assert.doesNotMatch(await readFile(lab.configPath, 'utf8'), /rd\.diskless\.sha256/, 'the YAML inventory was edited');
  const mark = lab.vm.consoleText().length;
  await lab.vm.type('reboot -f\n');

  // Boot 2 goes through; the open page follows it without a reload.
  await lab.login(mark, 8 * MINUTES);
  await page.click('nav a[data-view="fleet"]');
  await page.waitForSelector(`${row(lab.mac)}[data-status="booted"]`, { timeout: 90_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 7, 'never reloaded');
  await chrome.screenshot(page, 'lab-fleet');
  const booted = await node();
  const rows = (booted.timeline ?? []).map((r) => [r['name'], r['status']]);
  assert.deepEqual(rows, ['dhcp', 'load', 'cmdline', 'modules', 'network', 'fetched', 'verified', 'root', 'overlay', 'identity', 'handoff', 'switch_root', 'booted'].map((n) => [n, 'ok']),
    'every step of the second boot, in order, all ok');
  for (const s of ['cmdline', 'modules', 'network', 'root', 'overlay', 'identity', 'handoff']) {
    assert.ok(Number(booted.timeline!.find((x) => x['name'] === s)!['durationMs']) >= 0, `${s} has a duration`);
  }
  await page.click(`${row(lab.mac)} td.hostname a`);
  await page.waitForSelector('#timeline svg g.stage[data-stage="identity"][data-status="ok"]');
  await chrome.screenshot(page, 'lab-timeline');

  // /metrics: valid exposition, and it counted both boots.
  const metrics = await api('/metrics');
  assert.equal(metrics.status, 200);
  assert.deepEqual(checkExposition(metrics.text), []);
  const samples = parseSamples(metrics.text);
  assert.ok((sampleValue(samples, 'diskless_boots_failed_total', { stage: 'root' }) ?? 0) >= 1);
  assert.ok((sampleValue(samples, 'diskless_boots_finished_total') ?? 0) >= 1);
  assert.ok((sampleValue(samples, 'diskless_bytes_served_total', { protocol: 'http' }) ?? 0) > 100 * 1024 * 1024, 'two image downloads counted');

  // A machine the inventory does not know asks for an address; the admin adopts it in the page.
  const foreign = lab.net.foreignName!;
  await lab.net.exec(foreign, ['ip', 'link', 'set', 'eth0', 'address', STRANGER]);
  await lab.net.exec(foreign, ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '2', '-T', '1', '-s', '/bin/true'], { check: false, timeoutMs: 20_000 });
  await page.click('nav a[data-view="discovered"]');
  await page.waitForSelector(`#discovered-table tr[data-mac="${STRANGER}"]`, { timeout: 30_000 });
  await page.fill('#token-input', token);
  await page.click('#token-form button');
  await page.click(`#discovered-table tr[data-mac="${STRANGER}"] button.adopt`);
  await page.fill('#adopt-hostname', 'lab9');
  await page.click('#adopt-form button[type="submit"]');
  await page.waitForSelector('#adopt-message.ok, #adopt-message.error', { timeout: 30_000 });
  await chrome.screenshot(page, 'lab-adopt');
  assert.equal(await page.locator('#adopt-message').getAttribute('class'), 'message ok', await page.locator('#adopt-message').innerText());
  assert.match(await readFile(lab.configPath, 'utf8'), new RegExp(`mac: "?${STRANGER}"?[\\s\\S]*hostname: lab9|hostname: lab9[\\s\\S]*${STRANGER}`));
  await page.click('nav a[data-view="fleet"]');
  await page.waitForSelector(`${row(STRANGER)} td.hostname >> text=lab9`, { timeout: 30_000 });
  assert.deepEqual(pageErrors, [], 'no console errors or CSP violations');
  await chrome.close();
});

// An unattended node with a boot menu, on the real network initrd: the menu's timeout boots the
// default entry, whose root is missing; /init (rd.shell=0 from on_failure: reboot) uploads its
// report, which the API serves, and reboots; at the next menu a key typed on the console picks
// the rescue entry, which stops in a shell in the initramfs. No root is ever fetched.
test('a boot menu, an unattended failure: the timeout boots the default, its failure report reaches the API and the node reboots; a key picks the rescue shell', { timeout: 15 * MINUTES }, async (t) => {
  const lab = await DebianLab.start({
    mode: 'live', retry: 3,
    nodeCmdline: 'root=live:http://10.77.0.1/missing.sqfs',
    profileExtra: `
    on_failure: reboot
    failure_delay: 3
    menu:
      timeout: 4
      entries:
        - { name: lab, profile: debian, label: "Debian from the lab" }
        - { name: again, profile: debian, label: "Debian, second entry" }
        - { name: rescue, rescue: true, key: r }`,
  });
  t.after(() => lab.stop());
  const vm = lab.vm;
  const api = async (path: string) => {
    const r = await lab.net.exec(lab.net.name, ['curl', '-s', '-w', '\n%{http_code}', `${LAB_ADMIN_URL}${path}`], { check: false });
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), text: r.stdout.slice(0, cut) };
  };

  // Boot 1: the menu shows its three entries and, untouched, boots the default after 4 s.
  const menu1 = await vm.waitFor(/\[r\] Rescue: a shell in the initramfs/, 5 * MINUTES);
  assert.match(vm.consoleText(), /\[1\] Debian from the lab/);
  assert.match(vm.consoleText(), /\[2\] Debian, second entry/);
  const booting = await vm.waitFor(/Diskless: booting lab1 \(\S+\) with profile debian/, 60_000, menu1.index);
  const failed = await vm.waitFor(/FAILED in stage 'root'/, 6 * MINUTES, booting.index);
  const rebooting = await vm.waitFor(/rd\.shell=0: no shell; reboot in 3 s/, 2 * MINUTES, failed.index);
  assert.match(vm.consoleText().slice(failed.index, rebooting.index), /the failure report is sent to http:\/\/10\.77\.0\.1/);
  assert.doesNotMatch(vm.consoleText().slice(failed.index, rebooting.index), /starting a shell on the console/);

  const report = await api(`/api/v1/nodes/${lab.mac}/failure-report`);
  assert.equal(report.status, 200, report.text);
  const r = JSON.parse(report.text) as { stage: string; cause: string; text: string };
  assert.equal(r.stage, 'root');
  assert.match(r.cause, /missing\.sqfs/);
  assert.match(r.text, /^== diskless failure report ==\nstage: root\n/);
  assert.match(r.text, /rd\.shell=0 rd\.emergency=reboot rd\.diskless\.failure_delay=3/);
  assert.doesNotMatch(r.text, /rd\.diskless\.token=(?!\(removed\))/, 'no live token in a report');
  const detail = JSON.parse((await api(`/api/v1/nodes/${lab.mac}`)).text) as { failureReport: { stage: string } | null };
  assert.equal(detail.failureReport?.stage, 'root');

  // Boot 2, after the reboot: the menu again; "r" typed on the console picks the rescue entry.
  const menu2 = await vm.waitFor(/\[r\] Rescue: a shell in the initramfs/, 3 * MINUTES, rebooting.index);
  await vm.type('r');
  const stopped = await vm.waitFor(/rd\.break=root: stopping before stage 'root'/, 5 * MINUTES, menu2.index);
  await vm.waitFor(/starting a shell on the console/, 60_000, stopped.index);
  // The shell's output ends with a marker its own arithmetic prints, so the command line before
  // it has been read whole (the typed text echoes the expressions, never their values).
  await vm.type('echo "rescue-$((6 * 7))"; cat /proc/cmdline; echo "done-$((6 * 8))"\n');
  await vm.waitFor(/done-48/, 60_000, stopped.index);
  const after = vm.consoleText().slice(stopped.index);
  assert.match(after, /rescue-42/);
  assert.match(after, /rd\.break=root rd\.shell/, 'the rescue entry\'s command line');
  assert.doesNotMatch(after, /rd\.diskless\.token=/, 'the rescue entry carries no token');
});
