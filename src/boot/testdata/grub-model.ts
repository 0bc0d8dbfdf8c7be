/**
 * How GRUB's script lexer cuts a config into commands, modelled for tests from its grammar
 * (grub-core/script/yylex.l): blanks separate words; "\n" and ";" end a command; "{", "}",
 * "|", "&", "<" and ">" are tokens of their own; "#" at the start of a word comments out the
 * rest of the line; inside '…' nothing is special; inside "…" a backslash escapes and
 * $NAME / ${NAME} expand; outside quotes a backslash escapes the next character and $NAME /
 * ${NAME} expand. A word's pieces keep how they were quoted, so a test can tell a literal from
 * an expansion, and an unquoted * ? [ (a file-name pattern once regexp is loaded) from a quoted one.
 */
export type GrubPiece =
  | { kind: 'literal'; text: string; quoted: boolean }
  | { kind: 'variable'; name: string };

export interface GrubWord {
  pieces: GrubPiece[];
}

export interface GrubCommand {
  words: GrubWord[];
  /** What ended the command: a line break, ";", or one of GRUB's operator tokens. */
  end: '\n' | ';' | '{' | '}' | '|' | '&' | '<' | '>' | 'eof';
}

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#*@])/;
const OPERATORS = new Set(['{', '}', '|', '&', '<', '>']);

export function grubCommands(script: string): GrubCommand[] {
  const commands: GrubCommand[] = [];
  let words: GrubWord[] = [];
  let word: GrubPiece[] | undefined;
  let i = 0;
  const endWord = () => {
    if (word !== undefined) words.push({ pieces: word });
    word = undefined;
  };
  const endCommand = (end: GrubCommand['end']) => {
    endWord();
    if (words.length > 0 || (end !== '\n' && end !== 'eof' && end !== ';')) commands.push({ words, end });
    words = [];
  };
  const literal = (text: string, quoted: boolean) => {
    word ??= [];
    word.push({ kind: 'literal', text, quoted });
  };
  const variable = (): void => {
    // At "$": ${NAME} or $NAME; a lone "$" is a literal.
    if (script[i + 1] === '{') {
      const close = script.indexOf('}', i + 2);
      const name = close < 0 ? '' : script.slice(i + 2, close);
      if (close >= 0 && NAME.exec(name)?.[0] === name) {
        word ??= [];
        word.push({ kind: 'variable', name });
        i = close + 1;
        return;
      }
    }
    const m = NAME.exec(script.slice(i + 1));
    if (m) {
      word ??= [];
      word.push({ kind: 'variable', name: m[0] });
      i += 1 + m[0].length;
      return;
    }
    literal('$', false);
    i++;
  };
  while (i < script.length) {
    const c = script[i]!;
    if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if (c === '\n' || c === ';') {
      endCommand(c);
      i++;
    } else if (OPERATORS.has(c)) {
      endCommand(c as GrubCommand['end']);
      i++;
    } else if (c === '#' && word === undefined) {
      const nl = script.indexOf('\n', i);
      i = nl < 0 ? script.length : nl;
    } else if (c === "'") {
      const close = script.indexOf("'", i + 1);
      literal(close < 0 ? script.slice(i + 1) : script.slice(i + 1, close), true);
      i = close < 0 ? script.length : close + 1;
    } else if (c === '"') {
      i++;
      word ??= [];
      while (i < script.length && script[i] !== '"') {
        if (script[i] === '\\' && i + 1 < script.length) {
          literal(script[i + 1]!, true);
          i += 2;
        } else if (script[i] === '$') {
          variable();
        } else {
          literal(script[i]!, true);
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      if (script[i + 1] === '\n') i += 2; // a line continuation
      else {
        literal(script[i + 1] ?? '', true);
        i += 2;
      }
    } else if (c === '$') {
      variable();
    } else {
      literal(c, false);
      i++;
    }
  }
  endCommand('eof');
  return commands;
}

/** A word's text with variables shown as ${NAME}. */
export function wordText(w: GrubWord): string {
  return w.pieces.map((p) => (p.kind === 'variable' ? `\${${p.name}}` : p.text)).join('');
}

/** Every variable a script expands. */
export function grubVariables(script: string): string[] {
  return grubCommands(script).flatMap((c) => c.words.flatMap((w) => w.pieces.flatMap((p) => (p.kind === 'variable' ? [p.name] : []))));
}

/** Each command's first word (its name or keyword): the script's shape. */
export function grubShape(script: string): string[] {
  return grubCommands(script).map((c) => (c.words[0] ? wordText(c.words[0]) : ''));
}

/** GRUB's operator tokens ({ } | & < >) a script holds: none in anything Diskless writes. */
export function grubOperators(script: string): string[] {
  return grubCommands(script).flatMap((c) => (c.end === '\n' || c.end === ';' || c.end === 'eof' ? [] : [c.end]));
}

/** Unquoted characters GRUB would expand as a file-name pattern (with the regexp module loaded). */
export function unquotedPatterns(script: string): string[] {
  return grubCommands(script).flatMap((c) => c.words.flatMap((w) => w.pieces.flatMap((p) => (p.kind === 'literal' && !p.quoted && /[*?[\]]/.test(p.text) ? [p.text] : []))));
}
