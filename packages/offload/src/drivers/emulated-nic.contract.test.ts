import { driverContract } from '../testing/contract-suite.ts';
import { EmulatedNicDriver } from './emulated-nic.ts';

driverContract('emulated-nic (packet offload, 8 SAD entries)', async () => {
  const driver = await EmulatedNicDriver.start({ capacity: 8 });
  return { driver, kind: 'packet', saSkip: null, close: () => driver.close() };
});
