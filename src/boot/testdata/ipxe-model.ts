/**
 * How iPXE reads a script, modelled for tests from its source (src/image/script.c,
 * src/core/exec.c, src/core/settings.c): lines end at "\n", a trailing "\r" is dropped and a
 * trailing "\" joins the next line; a line is a C string (it ends at a NUL); a leading ":NAME"
 * is a label; words are separated by white space with no quoting; a word that is exactly ";",
 * "||" or "&&" ends one command and starts the next; a word starting with "#" ends the line.
 */
export interface IpxeCommand {
  argv: string[];
  /** The word that ended this command, if another follows on the same line. */
  then?: ';' | '||' | '&&';
}

export interface IpxeLine {
  label?: string;
  commands: IpxeCommand[];
}

const SPACE = /[ \t\n\v\f\r]+/;

export function ipxeLines(script: string): IpxeLine[] {
  const physical = script.split('\n');
  const lines: IpxeLine[] = [];
  let pending = '';
  for (const [i, raw] of physical.entries()) {
    // A script's last "\n" leaves an empty fragment iPXE never reads as a line.
    if (i === physical.length - 1 && raw === '' && pending === '') break;
    let text = pending + raw;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.endsWith('\\')) {
      pending = text.slice(0, -1);
      continue;
    }
    pending = '';
    lines.push(parseLine(text.split('\0')[0]!));
  }
  if (pending !== '') lines.push(parseLine(pending));
  return lines;
}

function parseLine(text: string): IpxeLine {
  let rest = text.trimStart();
  let label: string | undefined;
  if (rest.startsWith(':')) {
    const end = rest.search(SPACE);
    label = end < 0 ? rest.slice(1) : rest.slice(1, end);
    rest = end < 0 ? '' : rest.slice(end);
  }
  const commands: IpxeCommand[] = [];
  let argv: string[] = [];
  for (const word of rest.split(SPACE).filter(Boolean)) {
    if (word.startsWith('#')) break;
    if (word === ';' || word === '||' || word === '&&') {
      commands.push({ argv, then: word });
      argv = [];
    } else argv.push(word);
  }
  if (argv.length || commands.length) commands.push({ argv });
  return { ...(label !== undefined ? { label } : {}), commands };
}

/** What a script does, without the data in it: labels and command names, line by line. */
export function ipxeShape(script: string): string[] {
  return ipxeLines(script).map((l) => [l.label !== undefined ? `:${l.label}` : '', ...l.commands.map((c) => `${c.argv[0] ?? ''}${c.then ? ` ${c.then}` : ''}`)].filter(Boolean).join(' '));
}

/** Every ${…} expansion iPXE would make, in the order written. */
export function ipxeExpansions(script: string): string[] {
  return ipxeLines(script).flatMap((l) => l.commands.flatMap((c) => c.argv.flatMap((w) => w.match(/\$\{[^}]*\}/g) ?? [])));
}
