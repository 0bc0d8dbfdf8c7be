import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanConsole, lastLines } from './console-text.js';

// Fragments captured from QEMU 7.2 serial consoles on Debian 12.
test('SeaBIOS and iPXE output loses colours, resets and backspaced countdowns', () => {
  const raw =
    '\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n' +
    '\x1b[0;1miPXE 1.0.0+git-20190125.36a4c85-5.1\x1b[0m -- Open Source Network Boot Firmware --\r\n' +
    'Press Ctrl-B for the iPXE command line...\b \b\b \b\b \bnet0: 52:54:00:12:34:56 using virtio-net on 0000:00:02.0 (open)\r\n';
  assert.equal(
    cleanConsole(raw),
    'SeaBIOS (version 1.16.2-debian-1.16.2-1)\n' +
      'iPXE 1.0.0+git-20190125.36a4c85-5.1 -- Open Source Network Boot Firmware --\n' +
      'Press Ctrl-B for the iPXE command linenet0: 52:54:00:12:34:56 using virtio-net on 0000:00:02.0 (open)\n',
  );
});

test('OVMF screen clears and private modes disappear', () => {
  const raw = '\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01H\r\n>>Start PXE over IPv4.\r\n  PXE-E18: Server response timeout.\r\n';
  assert.equal(cleanConsole(raw), '\n>>Start PXE over IPv4.\n  PXE-E18: Server response timeout.\n');
});

test('a backspace never eats the previous line', () => {
  assert.equal(cleanConsole('ab\n\bc'), 'ab\nc');
});

test('lastLines ignores the final newline', () => {
  assert.equal(lastLines('a\nb\nc\n', 2), 'b\nc');
  assert.equal(lastLines('a', 5), 'a');
});
