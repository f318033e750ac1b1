import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { parsePolicyConfig } from '@espresso/spd';
import { loadSysAddon } from '@espresso/sys';
import { codeForErrno, LinuxXfrmDriver } from '../drivers/linux-xfrm.ts';
import { gcmSaConfig, offered, protectPolicy, saRequest } from '../testing/fixtures.ts';
import { createNetns, ipOutput, netnsUnavailable } from '../testing/iproute2-capture.ts';
import { NETLINK_XFRM } from './netlink.ts';
import { interfaceIndex, NetlinkChannel, openNetlink } from './netlink-socket.ts';
import { policySpecFor } from './xfrm-mapping.ts';
import { encodeNewPolicy } from './xfrm-policy.ts';

/**
 * The driver against this machine's kernel, in a fresh network namespace; iproute2 reads back what the
 * kernel holds. Cases the kernel cannot run (no ESP, no offload-capable device) print its reason.
 */
const helper = loadSysAddon();
const cannot = typeof helper === 'string' ? helper : netnsUnavailable();

describe("linux-xfrm against this kernel's XFRM", { skip: cannot ?? false }, () => {
  let ns: { name: string; remove: () => void };
  let driver: LinuxXfrmDriver;
  before(() => {
    ns = createNetns('espresso-xfrm-kernel');
    driver = new LinuxXfrmDriver({ netns: ns.name });
  });
  after(async () => {
    await driver.close();
    ns.remove();
  });

  const policies = () => ipOutput(['-n', ns.name, 'xfrm', 'policy', 'list']);

  test('the helper opens sockets in the namespace: rtnetlink there knows its loopback', () => {
    assert.equal(interfaceIndex('lo', ns.name), 1);
    assert.match(String(interfaceIndex('espresso-no-such-if', ns.name)), /no interface/);
  });

  test('policies go into the kernel with selectors, marks, if_id and templates, and come out again', async () => {
    const config = gcmSaConfig('out', 0x6001, { local: '10.0.0.1', remote: '10.0.0.2' });
    const out = protectPolicy('k-out', 'k-sa', 'out', { protocol: 'tcp', remotePorts: 443, priority: 10 });
    const inbound = parsePolicyConfig({
      id: 'k-in',
      direction: 'in',
      local: '10.1.0.0/16',
      remote: '10.2.0.0/16',
      mark: { value: 3, mask: 15 },
      ifId: 9,
      action: 'protect',
      template: { mode: 'tunnel', sa: { name: 'k-sa-in' } },
    });
    const inConfig = gcmSaConfig('in', 0x6002, { local: '10.0.0.1', remote: '10.0.0.2' });
    const block = parsePolicyConfig({
      id: 'k-fwd',
      direction: 'fwd',
      local: '10.3.0.0/16',
      remote: '0.0.0.0/0',
      action: 'discard',
    });
    assert.ok((await driver.addPolicy(offered(out, 'k-sa', config, 5))).ok);
    assert.ok((await driver.addPolicy(offered(inbound, 'k-sa-in', inConfig, 6))).ok);
    assert.ok((await driver.addPolicy({ policy: block, sa: null })).ok);
    const listed = policies();
    assert.match(listed, /src 10\.1\.0\.0\/16 dst 10\.2\.0\.0\/16 proto tcp dport 443\s+dir out priority 10/);
    assert.match(listed, /tmpl src 10\.0\.0\.1 dst 10\.0\.0\.2\s+proto esp reqid 5 mode tunnel/);
    assert.match(
      listed,
      /src 10\.2\.0\.0\/16 dst 10\.1\.0\.0\/16\s+dir in priority 0[\s\S]*?mark 0x3\/0xf[\s\S]*?if_id 0x9/,
    );
    assert.match(listed, /tmpl src 10\.0\.0\.2 dst 10\.0\.0\.1\s+proto esp reqid 6 mode tunnel/);
    assert.match(listed, /src 0\.0\.0\.0\/0 dst 10\.3\.0\.0\/16\s+dir fwd action block/);
    for (const id of ['k-out', 'k-in', 'k-fwd']) assert.ok((await driver.deletePolicy(id)).ok);
    assert.equal(policies().trim(), '');
  });

  test("the kernel's own refusal comes back as a stable code: a policy it already holds is 'exists'", async () => {
    execFileSync('ip', [
      '-n',
      ns.name,
      'xfrm',
      'policy',
      'add',
      'src',
      '10.5.0.0/16',
      'dst',
      '10.6.0.0/16',
      'dir',
      'out',
    ]);
    const same = parsePolicyConfig({
      id: 'k-dup',
      direction: 'out',
      local: '10.5.0.0/16',
      remote: '10.6.0.0/16',
      action: 'bypass',
    });
    const refused = await driver.addPolicy({ policy: same, sa: null });
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'exists');
    assert.match(refused.error.message, /EEXIST/);
    execFileSync('ip', ['-n', ns.name, 'xfrm', 'policy', 'flush']);
  });

  test('a state goes in and reads back where the kernel has ESP and the algorithm', async (t) => {
    const config = gcmSaConfig('out', 0x6003, { initialSequence: '100' });
    const added = await driver.addSa(saRequest('k-state', config, 'software', 4));
    if (!added.ok) {
      t.diagnostic(`cannot run here: ${added.error.message}`);
      assert.ok(['algorithm', 'unsupported'].includes(added.error.code), added.error.message);
      t.skip(added.error.message);
      return;
    }
    const listed = ipOutput(['-n', ns.name, 'xfrm', 'state', 'list']);
    assert.match(listed, /proto esp spi 0x00006003 reqid 4 mode tunnel/);
    const read = driver.readSa('k-state');
    assert.ok(read.ok);
    assert.equal(read.value.nextSequence, 100n);
    assert.ok((await driver.deleteSa('k-state')).ok);
  });

  test('a packet-offload policy on lo: refused with the reason, or (no CONFIG_XFRM_OFFLOAD) taken unoffloaded', (t) => {
    const transport = openNetlink(NETLINK_XFRM, { netns: ns.name });
    assert.ok(typeof transport !== 'string', String(transport));
    const channel = new NetlinkChannel(transport);
    try {
      const spec = policySpecFor(offered(protectPolicy('k-off', 'k'), 'k', gcmSaConfig('out', 0x6004)), 1);
      assert.ok(spec.ok);
      assert.deepEqual(spec.value.offload, { ifindex: 1 });
      const seq = channel.nextSeq();
      const answer = channel.request(encodeNewPolicy(spec.value, seq), seq);
      if (answer.errno === 0) {
        // A kernel built without XFRM offload ignores XFRMA_OFFLOAD_DEV (its xfrm_dev_policy_add is a stub).
        t.diagnostic('this kernel took the policy without offloading it (built without CONFIG_XFRM_OFFLOAD)');
        assert.match(policies(), /src 10\.1\.0\.0\/16 dst 10\.2\.0\.0\/16/);
        execFileSync('ip', ['-n', ns.name, 'xfrm', 'policy', 'flush']);
        return;
      }
      t.diagnostic(`the kernel refused packet offload on lo: ${answer.text ?? ''} (errno ${answer.errno})`);
      assert.equal(codeForErrno(answer.errno, answer.text), 'unsupported');
      assert.equal(policies().trim(), '');
    } finally {
      channel.close();
    }
  });
});
