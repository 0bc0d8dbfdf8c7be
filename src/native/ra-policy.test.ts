// When `auto` (the shipped default) answers IPv6 Router Solicitations: only on an IPv4-only boot
// link. Checked against fixed /proc texts and against the real kernel in a namespace of our own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabNetwork } from '../lab/netns.js';
import { decideRouterSolicitations, ipv4OnlyLink, type Ipv6State } from './ra-policy.js';

// /proc/net/if_inet6 and /proc/net/ipv6_route of a boot server whose br0 has only its link-local address.
const LINK_ONLY: Ipv6State = {
  addresses: [
    'fe80000000000000a8bbccfffedd0001 04 40 20 80      br0',
    '00000000000000000000000000000001 01 80 10 80       lo',
    'fd000000000000000000000000000002 02 40 00 82     eth0',
  ].join('\n'),
  routes: [
    'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001      br0',
    // the host's uplink has an IPv6 default route: not the boot link, so it does not count
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0',
    'ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001      br0',
  ].join('\n'),
  disabled: '0\n',
};

test('auto answers on a link where the boot interface has only link-local IPv6', async () => {
  assert.deepEqual(ipv4OnlyLink('br0', LINK_ONLY).ipv4Only, true);
  const d = await decideRouterSolicitations('auto', { address: '10.0.0.1', interface: 'br0' }, async () => LINK_ONLY);
  assert.equal(d.answer, true);
  assert.equal(d.answer && d.interface, 'br0');
});

test('auto stays silent where IPv6 is in use on the boot link, or cannot be', () => {
  const cases: Array<[string, Ipv6State, RegExp]> = [
    ['a global address', { ...LINK_ONLY, addresses: `${LINK_ONLY.addresses}\n20010db8000000000000000000000001 04 40 00 80      br0` }, /br0 has the IPv6 address 2001:db8::1/],
    ['a unique-local address', { ...LINK_ONLY, addresses: `${LINK_ONLY.addresses}\nfd770000000000000000000000000001 04 40 00 80      br0` }, /fd77::1/],
    ['a default route learned from a router', { ...LINK_ONLY, routes: `${LINK_ONLY.routes}\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003      br0` }, /route from an IPv6 Router Advertisement/],
    ['a static route through a gateway', { ...LINK_ONLY, routes: `${LINK_ONLY.routes}\n20010db8000000000000000000000000 20 00000000000000000000000000000000 00 fe800000000000000000000000000009 00000400 00000001 00000000 00000003      br0` }, /IPv6 route through fe80::9/],
    ['IPv6 disabled on the interface', { ...LINK_ONLY, disabled: '1\n' }, /IPv6 is disabled on br0/],
    ['an interface the kernel does not know', { ...LINK_ONLY, disabled: undefined }, /no IPv6 settings for br0/],
  ];
  for (const [name, state, why] of cases) {
    const r = ipv4OnlyLink('br0', state);
    assert.equal(r.ipv4Only, false, name);
    assert.match(r.why, why, name);
  }
});

test('auto finds the boot interface from server.address, and never answers on loopback; false never answers', async () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    br0: [{ address: '10.0.0.1', netmask: '255.255.255.0', family: 'IPv4' as const, mac: 'aa:bb:cc:dd:00:01', internal: false, cidr: '10.0.0.1/24' }],
  };
  const read = async () => LINK_ONLY;
  const found = await decideRouterSolicitations('auto', { address: '10.0.0.1' }, read, interfaces);
  assert.equal(found.answer && found.interface, 'br0');
  const lo = await decideRouterSolicitations('auto', { address: '127.0.0.1' }, read, interfaces);
  assert.equal(lo.answer, false);
  assert.match(lo.why, /lo is a loopback interface/);
  const none = await decideRouterSolicitations('auto', { address: '10.9.9.9' }, read, interfaces);
  assert.match(none.why, /no interface of this host holds server.address 10\.9\.9\.9 \(set server.interface\)/);
  assert.equal((await decideRouterSolicitations(false, { address: '10.0.0.1', interface: 'br0' }, read, interfaces)).answer, false);
  assert.equal((await decideRouterSolicitations(true, { address: '10.0.0.1', interface: 'br0' }, async () => ({ ...LINK_ONLY, disabled: '1' }), interfaces)).answer, true);
});

test('the real kernel: a lab bridge with only link-local IPv6 is IPv4-only; an IPv6 prefix on it makes it not', { timeout: 60_000 }, async (t) => {
  const net = await LabNetwork.create();
  t.after(() => net.destroy());
  const state = async (): Promise<Ipv6State> => {
    const cat = async (p: string) => (await net.exec(net.name, ['cat', p], { check: false })).stdout;
    return { addresses: await cat('/proc/net/if_inet6'), routes: await cat('/proc/net/ipv6_route'), disabled: await cat('/proc/sys/net/ipv6/conf/br0/disable_ipv6') };
  };
  const before = ipv4OnlyLink('br0', await state());
  assert.equal(before.ipv4Only, true, before.why);
  await net.exec(net.name, ['ip', 'addr', 'add', 'fd77:18::1/64', 'dev', 'br0', 'nodad']);
  const after = ipv4OnlyLink('br0', await state());
  assert.equal(after.ipv4Only, false);
  assert.match(after.why, /br0 has the IPv6 address fd77:18::1/);
});
