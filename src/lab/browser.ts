import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium for tests, driven by playwright-core. The browser is Debian's `chromium`
 * package, never one playwright downloads (this project installs nothing from outside the
 * package registries): scripts/install-deps.sh installs it.
 */

/** Where tests put screenshots: test-artifacts/ at the repository root (git-ignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** $CHROMIUM_PATH, else Debian's binary; undefined when there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = env.CHROMIUM_PATH;
  if (wanted) return existsSync(wanted) ? wanted : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

export interface LaunchOptions {
  /** Default 1366×768: the laptop screen the dashboard is made for. */
  viewport?: { width: number; height: number };
  /** Browser console errors and uncaught page errors are collected here (a CSP violation is one). */
  onPageError?: (text: string) => void;
  /** Run Chromium inside this network namespace (the lab's), where the server listens. */
  netns?: string;
}

export interface BrowserSession {
  readonly browser: Browser;
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  /** A PNG of the page (whole scroll height) in ARTIFACTS_DIR; returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium. As root Chromium refuses to start with its sandbox, so
 * `--no-sandbox` is added only then; /dev/shm is small in containers, hence
 * `--disable-dev-shm-usage`. Throws, naming the fix, when the binary is missing.
 */
export async function launchChromium(opts: LaunchOptions = {}): Promise<BrowserSession> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(`Cannot start Chromium: none at ${process.env.CHROMIUM_PATH ?? CANDIDATES.join(' or ')}; run scripts/install-deps.sh (Debian package chromium)`);
  }
  const wrapped = opts.netns === undefined ? executablePath : await netnsWrapper(opts.netns, executablePath);
  const args = ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  const browser = await chromium.launch({ executablePath: wrapped, headless: true, args, timeout: 20_000 });
  try {
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1366, height: 768 } });
    return {
      browser,
      context,
      newPage: async () => {
        const page = await context.newPage();
        if (opts.onPageError) {
          const report = opts.onPageError;
          page.on('console', (m) => void (m.type() === 'error' && report(`console: ${m.text()}`)));
          page.on('pageerror', (e) => report(`page error: ${e.message}`));
        }
        return page;
      },
      screenshot: async (page, name) => {
        await mkdir(ARTIFACTS_DIR, { recursive: true });
        const path = join(ARTIFACTS_DIR, name.endsWith('.png') ? name : `${name}.png`);
        await page.screenshot({ path, fullPage: true });
        return path;
      },
      close: () => browser.close(),
    };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/**
 * playwright starts the browser itself and talks to it over inherited pipes, so a namespace is
 * entered by a wrapper that `exec`s Chromium under `ip netns exec`: the pipes stay the same.
 */
async function netnsWrapper(netns: string, chromiumPath: string): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(netns)) throw new Error(`Not a namespace name: ${netns}`);
  const dir = await mkdtemp(join(tmpdir(), 'diskless-chromium-'));
  const path = join(dir, 'chromium-in-netns');
  await writeFile(path, `#!/bin/sh\nexec ip netns exec ${netns} ${chromiumPath} "$@"\n`, { mode: 0o755 });
  return path;
}
