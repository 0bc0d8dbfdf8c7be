/**
 * Turns a serial console capture into plain lines for matching. Firmware draws on a terminal:
 * SeaBIOS and iPXE send colour codes and erase countdowns with backspaces ("\b \b"), OVMF
 * clears the screen and moves the cursor, and everything ends lines with "\r\n".
 */
// CSI sequences (ESC [ … final byte, including private ones such as ESC [ = 3 h and ESC [ ? 7 l),
// OSC strings (ESC ] … BEL or ESC \), and two-byte escapes such as ESC c (reset).
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-~])/g;
// \x08 rather than \b: outside a character class \b is a word boundary.
const ERASED = /[^\n\x08]\x08/g;

export function cleanConsole(raw: string): string {
  let text = raw.replace(ESCAPES, '').replace(/\r/g, '');
  // Apply backspaces the way the terminal did, so "Press Ctrl-B...\b \b" leaves no debris.
  for (let before = ''; before !== text; ) {
    before = text;
    text = text.replace(ERASED, '');
  }
  return text.replace(/\x08/g, '');
}

/** The last `n` lines, for error messages about a machine that did not do what was expected. */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n).join('\n');
}
