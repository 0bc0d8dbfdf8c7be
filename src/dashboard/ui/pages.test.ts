import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPages, PAGE_LIMIT } from './pages.js';

test('allPages follows next to the last page and asks for the largest pages', async () => {
  const asked: string[] = [];
  const pages: Record<string, unknown> = {
    [`/nodes?limit=${PAGE_LIMIT}`]: { nodes: [1, 2], next: 'a' },
    [`/nodes?limit=${PAGE_LIMIT}&after=a`]: { nodes: [3], next: 'b' },
    [`/nodes?limit=${PAGE_LIMIT}&after=b`]: { nodes: [], next: null },
  };
  const get = async (p: string) => {
    asked.push(p);
    return pages[p];
  };
  assert.deepEqual(await allPages<number>(get, '/nodes', 'nodes'), [1, 2, 3]);
  assert.equal(asked.length, 3);
});

test('allPages: a cursor that does not advance is an error, not an endless loop', async () => {
  await assert.rejects(allPages(async () => ({ nodes: [1], next: 'a' }), '/nodes', 'nodes'), /cursor did not advance/);
  await assert.rejects(allPages(async () => ({ other: [] }), '/nodes', 'nodes'), /no "nodes" list/);
});
