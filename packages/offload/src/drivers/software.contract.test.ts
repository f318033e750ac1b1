import { driverContract } from '../testing/contract-suite.ts';
import { MemoryDatapath } from '../testing/memory-datapath.ts';
import { SoftwareDriver } from './software.ts';

driverContract('software (over a recording datapath)', async () => {
  const driver = new SoftwareDriver(new MemoryDatapath());
  return { driver, kind: 'software', saSkip: null, close: () => driver.close() };
});
