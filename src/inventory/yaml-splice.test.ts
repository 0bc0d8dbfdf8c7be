import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import { applyYamlOps, type YamlOp } from './yaml-splice.js';

const TEXT = `server:
  address: 10.0.0.1
profiles:
  default:
    kernel: /k
    cmdline: quiet             # plain, with a comment
  rescue:
    kernel: /k2
    cmdline: 'single'
nodes:
  - mac: be:19:00:a0:d8:70
    hostname: n1
    cmdline: rd.debug          # appended to the profile's
  - mac: 52:54:00:00:00:02
    hostname: bench
    profile: rescue
default_profile: default
`;

/** Strings that are YAML syntax, or would be if they were not written as one quoted scalar. */
const HOSTILE = [
  '\n    profile: rescue',
  '\n  evil:\n    kernel: /bin/sh',
  '\napi:\n  read_from: [0.0.0.0/0]\nzzz:',
  'x\n',
  'a\r\nb: 1',
  'a\rb: 1',
  'a\u0085b: 1',
  'a\u2028b: 1',
  'a\u2029b: 1',
  'a\tb',
  'a\0b',
  "it's",
  "it's\nx: 1",
  '"\nx: 1',
  `${'long '.repeat(20)}\n    profile: rescue`,
  '"',
  '# not a comment',
  'x # nor this',
  'key: value',
  '- item',
  '|',
  '>-',
  '&anchor',
  '*alias',
  '!!python/object',
  '{a: 1}',
  '[1, 2]',
  '',
  ' leading',
  'trailing ',
  'yes',
  'null',
  '~',
  '0x10',
  '%YAML 1.1',
  '---',
  '...',
  '\\',
];

function json(text: string): any {
  const doc = parseDocument(text);
  assert.deepEqual(doc.errors, [], text);
  return doc.toJSON();
}

/** Each op with the JSON the whole document must have afterwards. */
function cases(v: string): Array<[string, YamlOp, (j: any) => void]> {
  return [
    ['in place over a plain value', { op: 'set', path: ['nodes', 0, 'cmdline'], value: v }, (j) => void (j.nodes[0].cmdline = v)],
    ['in place over a single-quoted value', { op: 'set', path: ['profiles', 'rescue', 'cmdline'], value: v }, (j) => void (j.profiles.rescue.cmdline = v)],
    ['a new key', { op: 'set', path: ['nodes', 1, 'cmdline'], value: v }, (j) => void (j.nodes[1].cmdline = v)],
    ['a new mapping', { op: 'set', path: ['profiles', 'extra'], value: { kernel: '/k', cmdline: v } }, (j) => void (j.profiles.extra = { kernel: '/k', cmdline: v })],
    ['an appended list item', { op: 'append', path: ['nodes'], value: { mac: '52:54:00:00:00:09', hostname: v } }, (j) => void j.nodes.push({ mac: '52:54:00:00:00:09', hostname: v })],
  ];
}

test('regression: a spliced value stays one value whatever it holds; a line break never becomes config', () => {
  for (const v of HOSTILE) {
    for (const [name, op, change] of cases(v)) {
      const out = applyYamlOps(TEXT, [op]);
      const want = json(TEXT);
      change(want);
      assert.deepEqual(json(out), want, `${name}: ${JSON.stringify(v)}\n${out}`);
      if (op.op === 'set' && name.startsWith('in place')) assert.equal(out.split('\n').length, TEXT.split('\n').length, `${name}: ${JSON.stringify(v)} stays on its line`);
    }
  }
  // Values that need no escapes keep their quoting style and comment.
  const out = applyYamlOps(TEXT, [
    { op: 'set', path: ['profiles', 'rescue', 'cmdline'], value: 'single init=/bin/sh' },
    { op: 'set', path: ['nodes', 0, 'cmdline'], value: 'rd.shell' },
  ]);
  assert.match(out, /^ {4}cmdline: 'single init=\/bin\/sh'$/m);
  assert.match(out, /^ {4}cmdline: rd\.shell {10}# appended to the profile's$/m);
});
