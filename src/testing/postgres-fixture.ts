import { after } from 'node:test';
import { startTestCluster, type TestCluster } from './postgres-cluster.js';

let shared: Promise<TestCluster & { stop(): Promise<void> }> | undefined;

/**
 * The PostgreSQL cluster of this test process (one test file), started at the first call to
 * `cluster()` and shared by every test of the file, each in a database of its own. Call at the
 * top level of a test file: it registers the hook that stops the server after the file's tests.
 */
export function postgresFixture(): { cluster(): Promise<TestCluster> } {
  after(async () => {
    const running = shared;
    shared = undefined;
    await (await running)?.stop();
  });
  return {
    cluster: () => {
      shared ??= startTestCluster(false);
      return shared;
    },
  };
}
