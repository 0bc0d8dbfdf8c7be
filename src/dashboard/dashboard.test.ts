import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { BootScript, VERSION } from '../events/testdata/boot-sequences.js';
import { findChromium, launchChromium } from '../lab/browser.js';
import { OLD_VERSION, startDashboard, TOKEN } from './testdata/fleet-fixture.js';

const N1 = '52:54:00:00:00:01';
const N2 = '52:54:00:00:00:02';
const STRANGER = '52:54:00:00:00:99';

const row = (mac: string) => `#fleet-table tr[data-mac="${mac}"]`;
const text = async (page: Page, selector: string) => (await page.locator(selector).innerText()).trim();

/**
 * The dashboard in real (headless) Chromium against a real server: live updates over the
 * event stream, a failed boot's timeline, adoption through the form. Not skipped without
 * Chromium: a dashboard nobody opened in a browser is not tested.
 */
test('dashboard in Chromium: live fleet, failed timeline, adopt form', { timeout: 60_000 }, async (t) => {
  assert.ok(findChromium(), 'Chromium is missing: run scripts/install-deps.sh (Debian package chromium)');
  const fx = await startDashboard(t, [
    { mac: N1, hostname: 'n1', profile: 'lab' },
    { mac: N2, hostname: 'n2', profile: 'lab', address: '10.77.0.52' },
  ]);
  const pageErrors: string[] = [];
  const chrome = await launchChromium({ onPageError: (e) => pageErrors.push(e) });
  t.after(() => chrome.close());
  const page = await chrome.newPage();
  page.setDefaultTimeout(5000);

  await page.goto(fx.url);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#live[data-state="live"]');
  assert.equal(await text(page, `${row(N1)} .badge`), 'offline');
  assert.equal(await text(page, `${row(N2)} td.mono >> nth=1`), '10.77.0.52');
  // A reload would lose this: every change below must arrive through the event stream.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

  // n1 boots: firmware DHCP and transfers, then /init's stages, then the booted report.
  const n1 = new BootScript(N1, '10.77.0.51').at(0).firmwareToKernel();
  fx.replay(n1.events.splice(0));
  await page.waitForSelector(`${row(N1)}[data-status="loading"]`);
  assert.equal(await text(page, `${row(N1)} td.image`), `debian@${VERSION.slice(0, 8)}`);
  n1.at(4100).report('network', 'ok', 'duration_ms=1500', 2300);
  fx.replay(n1.events.splice(0));
  await page.waitForSelector(`${row(N1)}[data-status="initramfs"]`);
  assert.equal(await text(page, `${row(N1)} td.stage`), 'root');
  n1.at(9000).report('root', 'ok', 'duration_ms=3000', 5300).at(12_000).report('booted', 'ok', '', 8000);
  fx.replay(n1.events.splice(0));
  await page.waitForSelector(`${row(N1)}[data-status="booted"]`);
  assert.match(await text(page, `${row(N1)} td.last`), /^booted booted/);
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');

  // n2 fails in root: its row turns red, and its timeline shows where and why.
  const n2 = new BootScript(N2, '10.77.0.52').at(0).firmwareToKernel()
    .at(4000).report('network', 'ok', 'duration_ms=1200', 2100)
    .at(7400).report('root', 'failed', 'sha256 mismatch: image changed while fetching', 5600);
  fx.replay(n2.events);
  await page.waitForSelector(`${row(N2)}[data-status="failed"]`);
  assert.equal(await page.locator(`${row(N2)} .badge`).getAttribute('title'), 'sha256 mismatch: image changed while fetching');
  const fleetShot = await chrome.screenshot(page, 'dashboard-fleet');

  // Sorting by state puts the failure first; filtering narrows the table.
  await page.click('#fleet-table th[data-key="status"] button');
  assert.equal(await page.locator('#fleet-table tbody tr').first().getAttribute('data-mac'), N2);
  await page.fill('#fleet-filter', 'sha256');
  assert.equal(await page.locator('#fleet-table tbody tr').count(), 1);
  await page.fill('#fleet-filter', '');

  await page.click(`${row(N2)} td.hostname a`);
  await page.waitForSelector('#timeline svg g.stage[data-status="failed"]');
  assert.deepEqual(await page.locator('#timeline svg g.stage').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-stage')}:${g.getAttribute('data-status')}`)), ['dhcp:ok', 'load:ok', 'network:ok', 'root:failed']);
  assert.match((await page.locator('#timeline g.stage[data-stage="root"] text.duration').textContent()) ?? '', /failed: sha256 mismatch/);
  assert.match(await text(page, '#failure'), /^Failed in stage root: sha256 mismatch: image changed while fetching$/);
  assert.match(await text(page, '#node-events tr.ev-failed'), /failed\s+root\s+sha256 mismatch/);
  assert.equal(await page.locator('#timeline rect[fill="#c53030"]').count(), 1);
  assert.equal(await page.locator('#failure-report').count(), 0, 'no report sent: no report shown');
  const timelineShot = await chrome.screenshot(page, 'dashboard-timeline');

  // Its last failure report (sent under rd.shell=0) shows under the events, folded, as text.
  fx.obs.failureReports.put({ mac: N2, stage: 'root', cause: 'sha256 mismatch', text: '== diskless failure report ==\nstage: root\n<img src=x onerror=alert(1)>\n' });
  await page.goto(`${fx.url}#/`);
  await page.waitForSelector(`${row(N2)}[data-status="failed"]`);
  await page.click(`${row(N2)} td.hostname a`);
  await page.waitForSelector('#failure-report');
  assert.match(await text(page, '#failure-report summary'), /^Received .*: stage root: sha256 mismatch \(\d+ bytes\)$/);
  await page.click('#failure-report summary');
  assert.equal(await page.locator('#failure-report pre').textContent(), '== diskless failure report ==\nstage: root\n<img src=x onerror=alert(1)>\n');
  assert.equal(await page.locator('#failure-report img').count(), 0, 'the text stays text');

  // An unknown machine asks for an address: it shows under Discovered, live.
  fx.obs.record({ time: Date.now(), mac: STRANGER, ip: '10.77.0.99', kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x99' } });
  await page.click('nav a[data-view="discovered"]');
  await page.waitForSelector(`#discovered-table tr[data-mac="${STRANGER}"]`);
  await page.click(`#discovered-table tr[data-mac="${STRANGER}"] button.adopt`);
  await page.fill('#adopt-hostname', 'n3');
  await page.selectOption('#adopt-profile', 'lab-uefi');
  await page.fill('#adopt-address', '10.77.0.63');
  // Without a token, then with a wrong one: the API's error and hint, word for word.
  await page.click('#adopt-form button[type="submit"]');
  await page.waitForSelector('#adopt-message.error');
  assert.match(await text(page, '#adopt-message'), /^No admin token entered Enter the admin token/);
  await page.fill('#token-input', 'guess');
  await page.click('#token-form button');
  await page.click('#adopt-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#adopt-message')?.textContent?.startsWith('Wrong admin token'));
  assert.equal(await text(page, '#adopt-message'), 'Wrong admin token Use the admin token from the server state directory');
  assert.deepEqual(fx.added, []);
  await page.click('#token-forget');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-form button');
  const adoptShot = await chrome.screenshot(page, 'dashboard-adopt');
  await page.click('#adopt-form button[type="submit"]');
  await page.waitForSelector('#adopt-message.ok');
  assert.deepEqual(fx.added, [{ mac: STRANGER, hostname: 'n3', profile: 'lab-uefi', address: '10.77.0.63' }]);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('diskless.adminToken')), TOKEN);
  await page.click('nav a[data-view="fleet"]');
  await page.waitForSelector(`${row(STRANGER)} td.hostname >> text=n3`);

  // Images: the published version and the node running it.
  await page.click('nav a[data-view="images"]');
  await page.waitForSelector(`[data-image="debian"] tr[data-version="${VERSION}"]`);
  assert.match(await text(page, `[data-image="debian"] tr[data-version="${VERSION}"]`), /published[\s\S]*n1/);
  const imagesShot = await chrome.screenshot(page, 'dashboard-images');

  // Rollouts: the panel follows a rollout live, its buttons act on it, a failed canary shows why.
  await page.click('nav a[data-view="rollouts"]');
  await page.waitForSelector('#view-rollouts p.empty');
  const r = await fx.rollouts.start({ image: 'debian', version: OLD_VERSION, canary: 1, batch: { count: 1 } });
  const card = `[data-rollout="${r.id}"]`;
  await page.waitForSelector(`${card} tr[data-mac="${N1}"][data-status="waiting"]`);
  assert.equal(await text(page, `${card} tr[data-mac="${N2}"] .badge`), 'pending');
  assert.equal(await text(page, '#rollout-state'), 'running');
  await page.click(`${card} button[data-action="pause"]`);
  await page.waitForSelector(`${card}[data-status="paused"]`);
  fx.replay(new BootScript(N1, '10.77.0.51').at(20_000).firmwareToKernel().at(24_000).report('root', 'failed', 'sha256 mismatch for root.sqfs', 5600).events);
  await page.waitForSelector(`${card}[data-status="stopped"] tr[data-mac="${N1}"][data-status="rolling-back"]`);
  assert.match(await text(page, '#rollout-message'), /^canary n1 failed in stage root: sha256 mismatch for root\.sqfs; 2 node\(s\) never moved$/, 'n2 and the adopted n3');
  assert.match(await text(page, `${card} tr[data-mac="${N1}"]`), /failed in stage root: sha256 mismatch for root\.sqfs/);
  assert.equal(await page.locator(`${card} button`).count(), 0, 'a stopped rollout offers no action');
  const rolloutShot = await chrome.screenshot(page, 'dashboard-rollouts');

  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');
  // The one refused request is the wrong token's 403, which Chromium logs; nothing else (a CSP
  // violation, a script error, a failed load) may show.
  assert.deepEqual(pageErrors.filter((e) => !/status of 403/.test(e)), [], 'no console errors and no CSP violations');
  assert.equal(pageErrors.length, 1);
  // Closed before the server stops, so the cut event stream is not logged as an error.
  await chrome.close();
  t.diagnostic(`screenshots: ${[fleetShot, timelineShot, adoptShot, imagesShot, rolloutShot].join(' ')}`);
});
