import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigFile } from './config-file.ts';

const offload = {
  devices: [
    { driver: 'emulated-nic', name: 'emu0', capacity: 8 },
    { driver: 'linux-xfrm', offloadDevice: 'eth0' },
  ],
  defaultMode: 'auto',
};

describe('the offload section of a configuration file', () => {
  it('is handed to espresso serve apart from the document PUT /v1/config takes', () => {
    const checked = checkConfigFile({ version: 1, offload, sas: [] });
    assert.ok(checked.ok);
    assert.deepEqual([checked.document, checked.offload, checked.interfaces], [{ sas: [] }, offload, null]);
    const without = checkConfigFile({ sas: [] });
    assert.ok(without.ok && without.offload === null);
  });

  it("names what is wrong with a device by its own driver's schema", () => {
    const checked = checkConfigFile({
      offload: {
        devices: [{ driver: 'emulated-nic', maxReplayWindow: 8 }, { driver: 'dpdk' }],
      },
    });
    assert.ok(!checked.ok);
    assert.deepEqual(checked.issues, [
      { path: '/offload/devices/0', message: 'maxReplayWindow: must be >= 32' },
      { path: '/offload/devices/1', message: 'driver: must be one of "emulated-nic", "linux-xfrm"' },
    ]);
    const xfrm = checkConfigFile({ offload: { devices: [{ driver: 'linux-xfrm', ifId: -1 }] } });
    assert.deepEqual(!xfrm.ok && xfrm.issues, [
      { path: '/offload/devices/0', message: 'ifId: must be >= 0' },
    ]);
  });
});
