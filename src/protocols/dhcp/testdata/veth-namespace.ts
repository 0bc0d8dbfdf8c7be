import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface VethLab {
  /** The namespace holding the client end. */
  namespace: string;
  /** The server end, left in this process's namespace. */
  hostIf: string;
  clientIf: string;
  clientMac: string;
  /** x in 10.213.x.0/24. */
  subnet: number;
  destroy(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A veth pair: one end here (the in-process server binds to it), the other in a fresh network
 * namespace for the client. Nothing is routed anywhere else. `destroy` is safe to call twice
 * and after a half-finished setup.
 */
export function createVethLab(): VethLab {
  const tag = randomBytes(3).toString('hex');
  const namespace = `dlq-${tag}`;
  const hostIf = `dlsv${tag}`;
  const clientIf = `dlcl${tag}`;
  const routes = ip('-4', 'route', 'show', 'table', 'all');
  let subnet = 0;
  for (let x = 1 + (parseInt(tag, 16) % 200); ; x++) {
    if (!routes.includes(`10.213.${x}.`)) { subnet = x; break; }
  }
  const destroy = (): void => {
    for (const args of [['netns', 'del', namespace], ['link', 'del', hostIf]]) {
      try { ip(...args); } catch { /* already gone */ }
    }
  };
  try {
    ip('netns', 'add', namespace);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', clientIf);
    ip('link', 'set', clientIf, 'netns', namespace);
    ip('addr', 'add', `10.213.${subnet}.1/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'link', 'set', clientIf, 'up');
    const clientMac = execFileSync('ip', ['netns', 'exec', namespace, 'cat', `/sys/class/net/${clientIf}/address`], { encoding: 'utf8' }).trim();
    return { namespace, hostIf, clientIf, clientMac, subnet, destroy };
  } catch (err) {
    destroy();
    throw err;
  }
}
