import { test } from 'node:test';
import assert from 'node:assert/strict';
import { droppedPorts, iptablesInputChain, nftInputChains, type BootPort } from './firewall.js';

const PORTS: BootPort[] = [
  { proto: 'udp', port: 67, what: 'DHCP' },
  { proto: 'udp', port: 69, what: 'TFTP' },
  { proto: 'tcp', port: 80, what: 'HTTP' },
  { proto: 'tcp', port: 443, what: 'HTTPS' },
];
const dropped = (chains: ReturnType<typeof nftInputChains>) => droppedPorts(chains, PORTS).map((v) => `${v.port.proto}/${v.port.port}`);

test('nft: an explicit drop of a boot port is found, with the rule', () => {
  const ruleset = `table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		udp dport 67 drop
		tcp dport { 22, 443 } counter packets 0 bytes 0 reject with icmp port-unreachable
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain helper {
		tcp dport 80 drop
	}
}`;
  const v = droppedPorts(nftInputChains(ruleset), PORTS);
  assert.deepEqual(v.map((x) => `${x.port.proto}/${x.port.port}`), ['udp/67', 'tcp/443']);
  assert.equal(v[0]!.by, 'table inet filter chain input: udp dport 67 drop');
});

test('nft: policy drop lets in only the accepted ports; ct state and lo rules are skipped', () => {
  const ruleset = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		udp dport { 67, 69, 4011 } accept
		tcp dport 60-90 accept
	}
}`;
  assert.deepEqual(dropped(nftInputChains(ruleset)), ['tcp/443']);
});

test('nft: an unconditional drop ends the chain; ports accepted before it pass', () => {
  const ruleset = `table ip t {
	chain in {
		type filter hook input priority 0; policy accept;
		th dport 67 accept
		counter packets 3 bytes 120 drop
	}
}`;
  assert.deepEqual(dropped(nftInputChains(ruleset)), ['udp/69', 'tcp/80', 'tcp/443']);
});

test('nft: an empty ruleset, or accept everywhere, drops nothing', () => {
  assert.deepEqual(dropped(nftInputChains('')), []);
  assert.deepEqual(dropped(nftInputChains('table inet f {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 22 accept\n\t}\n}')), []);
});

test('iptables -S: policy and --dport/--dports rules', () => {
  const chain = iptablesInputChain(`-P INPUT DROP
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p udp -m multiport --dports 67,69 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT`);
  assert.deepEqual(droppedPorts([chain], PORTS).map((v) => `${v.port.proto}/${v.port.port} ${v.by}`), ['tcp/443 iptables chain INPUT policy drop']);
  assert.deepEqual(droppedPorts([iptablesInputChain('-P INPUT ACCEPT\n-A INPUT -p udp --dport 69 -j DROP')], PORTS).map((v) => v.port.port), [69]);
});
