import type { Clock } from '@espresso/sad';
import type { FragmentPolicy } from './capabilities.ts';
import type { OffloadDriver } from './driver.ts';
import { EmulatedNicDriver, type EmulatedNicOptions } from './drivers/emulated-nic.ts';
import { LinuxXfrmDriver, type LinuxXfrmOptions } from './drivers/linux-xfrm.ts';
import { type SoftwareDatapath, SoftwareDriver, type SoftwareDriverOptions } from './drivers/software.ts';
import type { OffloadMode } from './placement.ts';
import { PlacementManager } from './placement-manager.ts';

/** A device as configuration names it: the driver's kind and that driver's options. */
export type DeviceSpec =
  | ({ readonly driver: 'emulated-nic' } & EmulatedNicOptions)
  | ({ readonly driver: 'linux-xfrm' } & LinuxXfrmOptions);

export interface DriverContext {
  /** Espresso's own datapath, which the software driver wraps. */
  readonly datapath: SoftwareDatapath;
}

/** One entry per driver: how to make it from its options. */
export const driverRegistry = {
  'emulated-nic': (spec: EmulatedNicOptions): Promise<OffloadDriver> => EmulatedNicDriver.start(spec),
  'linux-xfrm': async (spec: LinuxXfrmOptions): Promise<OffloadDriver> => new LinuxXfrmDriver(spec),
} as const;

export const driverNames: readonly string[] = ['software', ...Object.keys(driverRegistry)];

export function createDevice(spec: DeviceSpec): Promise<OffloadDriver> {
  const { driver, ...options } = spec;
  return driverRegistry[driver](options);
}

export interface PlacementSetup {
  readonly datapath: SoftwareDatapath;
  readonly software?: SoftwareDriverOptions;
  readonly devices?: readonly DeviceSpec[];
  readonly defaultMode?: OffloadMode;
  readonly acceptFragments?: readonly FragmentPolicy[];
  readonly clock?: Clock;
}

/**
 * The control plane's datapath with offload: the software driver over Espresso's own datapath and the
 * configured devices behind a placement manager. Hand the result to the control plane as its datapath.
 */
export async function createPlacementManager(setup: PlacementSetup): Promise<PlacementManager> {
  const devices: OffloadDriver[] = [];
  try {
    for (const spec of setup.devices ?? []) devices.push(await createDevice(spec));
  } catch (error) {
    for (const device of devices) await device.close();
    throw error;
  }
  return new PlacementManager({
    software: new SoftwareDriver(setup.datapath, setup.software),
    devices,
    ...(setup.defaultMode === undefined ? {} : { defaultMode: setup.defaultMode }),
    ...(setup.acceptFragments === undefined ? {} : { acceptFragments: setup.acceptFragments }),
    ...(setup.clock === undefined ? {} : { clock: setup.clock }),
  });
}
