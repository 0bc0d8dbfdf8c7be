import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { openSecrets } from '../app/state-backend.js';
import { nodeByMac } from '../boot/boot-target.js';
import { normalizeMac } from '../net/mac.js';
import { reportError } from './error-report.js';

const HELP = `Usage: diskless secrets root-password MAC|all --hash HASH|--hash-file FILE [--config FILE]
       diskless secrets authorized-keys MAC|all FILE [--config FILE]
       diskless secrets show MAC [--config FILE]

Per-node secrets live in STATE_DIR/secrets (0700, files 0600), or with state: postgres://… in
the database, sealed with the key in state.secrets_key_file; they reach a node only through
the one-time token in its own boot script; they are never in a boot script, initrd or image.
"all" sets the default for nodes without a value of their own. The password is stored as a
crypt(3) hash only: make one with \`mkpasswd -m yescrypt\` or \`openssl passwd -6\`.
SSH host keys are made on a node's first boot and kept; "show" prints their fingerprints.
`;

const fingerprint = (pub: string): string => {
  const blob = pub.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
};

export async function secretsCommand(argv: string[], out = (s: string) => void process.stdout.write(s), err = (s: string) => void process.stderr.write(s)): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    out(HELP);
    return sub === undefined ? 2 : 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, hash: { type: 'string' }, 'hash-file': { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (e) {
    err(`diskless secrets ${sub}: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const usage = (msg: string) => (err(`diskless secrets ${sub}: ${msg}\n\n${HELP}`), 2);
  const [who, file] = positionals;
  if (who === undefined) return usage('expects MAC or all');
  try {
    const config = loadConfigFrom(values.config);
    const selector = who === 'all' ? '*' : normalizeMac(who);
    if (selector === undefined) return usage(`"${who}" is not a MAC address or "all"`);
    if (selector !== '*' && !nodeByMac(config, selector)) err(`warning: ${selector} is not a node in ${config.file} yet\n`);
    const opened = await openSecrets(config);
    const store = opened.source;
    try {
    switch (sub) {
      case 'root-password': {
        const hash = values.hash ?? (values['hash-file'] ? (await readFile(values['hash-file'], 'utf8')).trim() : undefined);
        if (hash === undefined) return usage('give --hash HASH or --hash-file FILE');
        await store.setRootPassword(selector, hash);
        out(`root password hash stored for ${who}; nodes get it at their next boot\n`);
        return 0;
      }
      case 'authorized-keys': {
        if (file === undefined) return usage('expects the authorized_keys FILE (public keys)');
        await store.setAuthorizedKeys(selector, await readFile(file, 'utf8'));
        out(`root's authorized_keys stored for ${who}; nodes get them at their next boot\n`);
        return 0;
      }
      case 'show': {
        if (selector === '*') return usage('show takes one MAC');
        const node = nodeByMac(config, selector);
        const { files } = await store.hostKeys(selector, node?.hostname ?? `node-${selector.replace(/:/g, '')}`);
        for (const f of files.filter((x) => x.path.endsWith('.pub'))) out(`${f.path}  ${fingerprint(f.content.toString())}\n`);
        out(`root password: ${(await store.rootPasswordHash(selector)) ? 'set' : 'not set (the image\'s own)'}\n`);
        const keys = await store.authorizedKeys(selector);
        out(`authorized_keys: ${keys === undefined ? 'not set' : `${keys.split('\n').filter(Boolean).length} key(s)`}\n`);
        return 0;
      }
      default:
        return usage('unknown subcommand');
    }
    } finally {
      await opened.close();
    }
  } catch (e) {
    return reportError(e, err, `diskless secrets ${sub}`);
  }
}
