import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.js';
import { DisklessError } from '../errors/diskless-error.js';
import { isCode } from '../files/error-code.js';

/**
 * The API's admin token from api.admin_token_file. A missing file gets a fresh random token
 * (256 bits, 0600, created exclusively so two starting servers cannot both write one); the log
 * says where it is, never what it is. A file others can read is refused, as secrets are: the
 * token edits the inventory.
 */
export async function loadAdminToken(file: string, logger: Logger): Promise<string> {
  const log = logger.child({ service: 'api' });
  let text: string;
  try {
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0) {
      throw new DisklessError('DL_SECRET_PERMISSION', `Cannot use admin token file ${file}: mode ${(st.mode & 0o777).toString(8)} lets others read it (chmod 600 ${file})`);
    }
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (!isCode(e, 'ENOENT')) throw e;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const token = randomBytes(32).toString('base64url');
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(`${token}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    log.log('info', 'admin token created', { file });
    return token;
  }
  const token = text.trim();
  if (!/^\S{16,}$/.test(token)) throw new DisklessError('DL_INVALID', `Cannot use admin token file ${file}: expected one token of at least 16 characters without spaces`);
  log.log('info', 'admin token loaded', { file });
  return token;
}
