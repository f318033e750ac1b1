import { InProcessDatapath } from '@espresso/control-plane';
import { SoftwareDriver } from '@espresso/offload';
import { driverContract } from '@espresso/offload/testing';

driverContract("software (over the control plane's in-process datapath)", async () => {
  const driver = new SoftwareDriver(new InProcessDatapath({ workers: 2 }));
  return { driver, kind: 'software', saSkip: null, close: () => driver.close() };
});
