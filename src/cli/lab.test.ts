import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginPromptMessage } from './lab.js';

test('the lab reports the boot\'s own time (machine start to login prompt) before the command\'s, which counts a first run\'s image build', () => {
  // A first run: 536 s building the image and initrd and starting the server, then a 41 s boot.
  assert.equal(
    loginPromptMessage('52:54:00:12:34:56', { commandStarted: 1_000_000, machineStarted: 1_536_000, loginPrompt: 1_577_000 }),
    '52:54:00:12:34:56 reached its login prompt 41 s after its machine started (577 s after this command started, counting the image, initrd and server it prepared)',
  );
});
