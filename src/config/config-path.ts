import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from './load.js';
import type { DisklessConfig } from './types.js';
import { ConfigError } from './yaml-fields.js';

/** Where the config lives when neither --config nor DISKLESS_CONFIG says otherwise. */
export const DEFAULT_CONFIG_PATH = '/etc/diskless/diskless.yaml';

/** The environment variable that names the config for every command (the unit sets it too). */
export const CONFIG_ENV = 'DISKLESS_CONFIG';

/**
 * The one rule for which config a command reads: `--config FILE` when given, else
 * $DISKLESS_CONFIG when set and not empty, else /etc/diskless/diskless.yaml. Returned absolute,
 * with where it came from so a "cannot read" error can say how it was chosen.
 */
export function configPath(given: string | undefined, env: NodeJS.ProcessEnv = process.env): { path: string; from: 'option' | 'env' | 'default' } {
  if (given !== undefined && given !== '') return { path: resolve(given), from: 'option' };
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(fromEnv), from: 'env' };
  return { path: DEFAULT_CONFIG_PATH, from: 'default' };
}

/**
 * Loads the config `configPath` picks. A missing file gets advice on how it was chosen and how
 * to make one, since a fresh install has none yet.
 */
export function loadConfigFrom(given: string | undefined, env: NodeJS.ProcessEnv = process.env): DisklessConfig {
  const { path, from } = configPath(given, env);
  if (!existsSync(path)) {
    const how = from === 'option' ? 'given with --config' : from === 'env' ? `named by ${CONFIG_ENV}` : 'the default';
    throw new ConfigError(path, undefined, '(file)', `cannot read config: no such file (${how}; write one with "diskless init --interface IF", or name another with --config FILE or ${CONFIG_ENV})`);
  }
  return loadConfig(path);
}
