import { workerData } from 'node:worker_threads';
import { EmulatedNicDevice, type EmulatorOptions } from './device.ts';
import type { EmulatorStorage } from './layout.ts';

/** The emulated NIC's own thread: it builds its views of the shared memory and runs until told to stop. */
const data = workerData as { storage: EmulatorStorage; options: EmulatorOptions };
new EmulatedNicDevice(data.storage, data.options).run();
