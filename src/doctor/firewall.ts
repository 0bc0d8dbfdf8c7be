/** A port the boot LAN must reach. */
export interface BootPort {
  proto: 'udp' | 'tcp';
  port: number;
  /** What uses it, for messages: "DHCP", "TFTP", … */
  what: string;
}

/** What an input chain does to a port: dropped (by a rule or the policy) or let in. */
export interface PortVerdict {
  port: BootPort;
  verdict: 'accept' | 'drop';
  /** Where the verdict came from: "table inet filter chain input: udp dport 67 drop" or "... policy drop". */
  by: string;
}

interface Rule {
  text: string;
  verdict: 'accept' | 'drop' | undefined;
}

export interface Chain {
  where: string;
  /** A base chain on the input hook: what reaches the server's own sockets. */
  input: boolean;
  policy: 'accept' | 'drop';
  rules: Rule[];
}

/**
 * The input filter chains of `nft list ruleset` output: their policy and rules in order. Only
 * base chains hooked on input count: what reaches the boot server's own sockets.
 */
export function nftInputChains(ruleset: string): Chain[] {
  const chains: Chain[] = [];
  let table = '';
  let current: Chain | undefined;
  let depth = 0;
  for (const raw of ruleset.split('\n')) {
    const line = raw.trim();
    const t = /^table\s+(\S+)\s+(\S+)\s*\{/.exec(line);
    if (t) {
      table = `${t[1]} ${t[2]}`;
      depth = 1;
      continue;
    }
    const c = /^chain\s+(\S+)\s*\{/.exec(line);
    if (c && depth === 1) {
      current = { where: `table ${table} chain ${c[1]}`, input: false, policy: 'accept', rules: [] };
      depth = 2;
      continue;
    }
    if (line === '}') {
      if (depth === 2 && current) {
        if (current.input) chains.push(current);
        current = undefined;
      }
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (!current || depth !== 2 || line === '') continue;
    const hook = /type\s+filter\s+hook\s+input\b.*?(?:policy\s+(accept|drop))?\s*;?\s*$/.exec(line);
    if (hook) {
      current.input = true;
      const policy = /policy\s+(accept|drop)/.exec(line)?.[1];
      if (policy === 'drop') current.policy = 'drop';
      continue;
    }
    const verdict = /\b(accept|drop|reject)\b(?:\s+with\s+.*)?\s*(?:comment\s+".*")?$/.exec(line)?.[1];
    current.rules.push({ text: line, verdict: verdict === undefined ? undefined : verdict === 'accept' ? 'accept' : 'drop' });
  }
  return chains;
}

/** `iptables -S INPUT` output as one chain (iptables-legacy hosts; iptables-nft shows up in nft). */
export function iptablesInputChain(rules: string): Chain {
  const chain: Chain = { where: 'iptables chain INPUT', input: true, policy: 'accept', rules: [] };
  for (const raw of rules.split('\n')) {
    const line = raw.trim();
    if (/^-P\s+INPUT\s+DROP/.test(line)) chain.policy = 'drop';
    if (!line.startsWith('-A INPUT')) continue;
    const target = /-j\s+(ACCEPT|DROP|REJECT)\b/.exec(line)?.[1];
    chain.rules.push({ text: line, verdict: target === undefined ? undefined : target === 'ACCEPT' ? 'accept' : 'drop' });
  }
  return chain;
}

/**
 * Whether a rule's match is about this port: a destination port match of its protocol (a single
 * port, a set { 67, 69 } or a range 60-70; nft's `udp dport`, `th dport`, iptables' `--dport` and
 * `--dports`). Returns false for rules that name other ports, and undefined for rules without
 * a port match.
 */
function matchesPort(rule: string, p: BootPort): boolean | undefined {
  const nft = [...rule.matchAll(/\b(udp|tcp|th)\s+dport\s+(\{[^}]*\}|\S+)/g)];
  const ipt = /--dports?\s+(\S+)/.exec(rule);
  if (nft.length === 0 && !ipt) return undefined;
  if (nft.length > 0) {
    return nft.some((m) => (m[1] === 'th' || m[1] === p.proto) && portListHas(m[2]!, p.port) && !/\bmeta\s+l4proto\s+(\S+)/.exec(rule)?.[1]?.includes(p.proto === 'udp' ? 'tcp' : 'udp'));
  }
  const proto = /-p\s+(\S+)/.exec(rule)?.[1];
  return (proto === undefined || proto === p.proto) && portListHas(ipt![1]!, p.port);
}

function portListHas(list: string, port: number): boolean {
  for (const item of list.replace(/[{}]/g, '').split(/[,\s]+/).filter(Boolean)) {
    const range = /^(\d+)[-:](\d+)$/.exec(item);
    if (range && port >= Number(range[1]) && port <= Number(range[2])) return true;
    if (/^\d+$/.test(item) && Number(item) === port) return true;
  }
  return false;
}

/**
 * What each chain does to each port, read as the kernel would run it as far as a text can tell:
 * the first rule that matches the port and has a verdict decides; a rule without any port match
 * whose only condition we cannot judge (ct state, interface) is skipped, except an unconditional
 * drop (`drop`, `counter drop`, `-j DROP` alone), which drops everything after it; else the
 * chain's policy. Ports dropped by any chain are returned, with where.
 */
export function droppedPorts(chains: readonly Chain[], ports: readonly BootPort[]): PortVerdict[] {
  const out: PortVerdict[] = [];
  for (const port of ports) {
    for (const chain of chains) {
      const v = verdictOf(chain, port);
      if (v.verdict === 'drop') {
        out.push(v);
        break;
      }
    }
  }
  return out;
}

function verdictOf(chain: Chain, port: BootPort): PortVerdict {
  for (const rule of chain.rules) {
    if (rule.verdict === undefined) continue;
    const m = matchesPort(rule.text, port);
    if (m === true) return { port, verdict: rule.verdict, by: `${chain.where}: ${rule.text}` };
    if (m === undefined && rule.verdict === 'drop' && isUnconditional(rule.text)) return { port, verdict: 'drop', by: `${chain.where}: ${rule.text}` };
  }
  return { port, verdict: chain.policy, by: `${chain.where} policy ${chain.policy}` };
}

function isUnconditional(rule: string): boolean {
  return /^(counter(\s+packets\s+\d+\s+bytes\s+\d+)?\s+)?(drop|reject)(\s+with\s+.*)?$/.test(rule) || /^-A\s+INPUT\s+-j\s+(DROP|REJECT)\b/.test(rule);
}
