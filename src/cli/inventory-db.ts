import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { parseConfig } from '../config/load.js';
import { mergeInventory, splitInventory } from '../inventory/inventory-doc.js';
import { Database } from '../postgres/database.js';
import { PgInventory } from '../postgres/inventory.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { DisklessError } from '../errors/diskless-error.js';
import { reportError } from './error-report.js';

const HELP = `Usage: diskless inventory export [--output FILE] [--config FILE]
       diskless inventory import FILE [--config FILE]

With \`state: postgres://…\` the inventory (default_profile, profiles, nodes) can live in the
state database, where every boot server serves it in place of its config file's own and sees
each edit within a second. "import" stores FILE's inventory keys there (FILE: a config, or a
YAML file of those keys only), checked first as this server would serve it (errors name
FILE:LINE:KEY); from then on API edits (node add/adopt from the dashboard) go to the database.
"export" writes the database's inventory as YAML (to stdout, or FILE replaced atomically).
`;

interface Io {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export async function inventoryCommand(argv: string[], io: Io = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    out(HELP);
    return sub === undefined ? 2 : 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, output: { type: 'string', short: 'o' } }, allowPositionals: true, strict: true });
  } catch (e) {
    err(`diskless inventory ${sub}: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (sub !== 'import' && sub !== 'export') {
    err(`diskless inventory: unknown subcommand "${sub}"\n\n${HELP}`);
    return 2;
  }
  if (sub === 'import' && positionals.length !== 1) {
    err(`diskless inventory import: expects FILE\n\n${HELP}`);
    return 2;
  }
  if (sub === 'export' && positionals.length !== 0) {
    err(`diskless inventory export: takes no arguments (--output FILE writes a file)\n\n${HELP}`);
    return 2;
  }
  if (sub === 'import' && values.output !== undefined) {
    err(`diskless inventory import: --output only applies to export\n\n${HELP}`);
    return 2;
  }
  let db: Database | undefined;
  try {
    const config = loadConfigFrom(values.config);
    if (config.state.backend !== 'postgres') {
      throw new DisklessError('DL_INVALID', `${config.file}: state is files; the inventory is this config file's nodes and profiles (inventory import|export need state: postgres://…)`);
    }
    db = await Database.open(config.state, { applicationName: 'diskless inventory' });
    const inventory = await PgInventory.open(db);
    try {
      if (sub === 'export') {
        const text = inventory.text;
        if (text === undefined) throw new DisklessError('DL_INVALID', 'The state database holds no inventory yet: every server serves its config file\'s own (store one with: diskless inventory import FILE)');
        if (values.output !== undefined) {
          await writeFileAtomic(resolve(values.output), text);
          err(`wrote the inventory to ${values.output}\n`);
        } else out(text);
        return 0;
      }
      const file = resolve(positionals[0]!);
      const text = await readFile(file, 'utf8');
      const split = splitInventory(text);
      // Checked as this server would serve it: the file's own lines, then this config's settings.
      const served = split.rest === '' ? parseConfig(mergeInventory(text, splitInventory(await readFile(config.file, 'utf8')).rest), file) : parseConfig(text, file);
      if (split.inventory === '') throw new DisklessError('DL_INVALID', `${file}: no default_profile, profiles or nodes to import`);
      await inventory.edit(() => split.inventory);
      out(`imported ${served.nodes.length} node(s) and ${served.profiles.size} profile(s) into the state database; every server serves them within a second\n`);
      return 0;
    } finally {
      inventory.detach();
    }
  } catch (e) {
    return reportError(e, err, `diskless inventory ${sub}`);
  } finally {
    await db?.close();
  }
}
