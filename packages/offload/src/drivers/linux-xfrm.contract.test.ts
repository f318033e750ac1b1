import { loadSysAddon } from '@espresso/sys';
import { driverContract } from '../testing/contract-suite.ts';
import { gcmSaConfig, saRequest } from '../testing/fixtures.ts';
import { createNetns, netnsUnavailable } from '../testing/iproute2-capture.ts';
import { LinuxXfrmDriver } from './linux-xfrm.ts';

/**
 * The contract against this machine's kernel, in a network namespace of its own (XFRM state is per
 * namespace). States need the kernel's ESP and AES-GCM: when the kernel refuses a probe state, the SA
 * cases are skipped with its reason, and the policy cases still run.
 */
const helper = loadSysAddon();
const cannot = typeof helper === 'string' ? helper : netnsUnavailable();

if (cannot !== null) {
  driverContract(`linux-xfrm (cannot run: ${cannot})`, async () => {
    const driver = new LinuxXfrmDriver({
      transport: { send: () => -1, receive: () => -1, close: () => undefined },
    });
    return { driver, kind: 'software', saSkip: cannot, close: () => driver.close() };
  });
} else {
  driverContract("linux-xfrm (this kernel's XFRM, in a fresh netns)", async () => {
    const ns = createNetns('espresso-xfrm-contract');
    const driver = new LinuxXfrmDriver({ netns: ns.name });
    const probe = await driver.addSa(saRequest('probe', gcmSaConfig('out', 0x4fff), 'software'));
    if (probe.ok) await driver.deleteSa('probe');
    return {
      driver,
      kind: 'software',
      saSkip: probe.ok ? null : `the kernel refused a test state: ${probe.error.message}`,
      close: async () => {
        await driver.close();
        ns.remove();
      },
    };
  });
}
