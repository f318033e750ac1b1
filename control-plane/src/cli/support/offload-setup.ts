import { EmulatedNicDevice, LinuxXfrmDevice, type OffloadDevice, type OffloadSettings } from '@espresso/api';
import {
  createPlacementManager,
  type DeviceSpec,
  type OffloadMode,
  type PlacementManager,
  type PlacementSetup,
  type SoftwareDatapath,
} from '@espresso/offload';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { type CommandIo, type ParsedArgs, stringOption, UsageError } from '../command.ts';

const deviceSchemas: Readonly<Record<string, TSchema>> = {
  'emulated-nic': EmulatedNicDevice,
  'linux-xfrm': LinuxXfrmDevice,
};

export const offloadModes: readonly OffloadMode[] = ['auto', 'packet', 'crypto', 'none'];

/** A value of `--offload-device`: an integer, true or false, or the text as it is. */
function optionValue(text: string): unknown {
  if (/^(0|[1-9][0-9]{0,15})$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/**
 * `--offload-device DRIVER[:NAME][,KEY=VALUE...]`, e.g. `emulated-nic:emu1,capacity=64` or
 * `linux-xfrm,offloadDevice=eth0`: one device of the configuration's `offload.devices`, checked by the
 * same schema. Lists (an emulated NIC's `domains`) are for the configuration file.
 */
export function parseDeviceOption(text: string): OffloadDevice {
  const [head = '', ...pairs] = text.split(',');
  const colon = head.indexOf(':');
  const driver = colon < 0 ? head : head.slice(0, colon);
  const schema = deviceSchemas[driver];
  if (schema === undefined) {
    throw new UsageError(
      `--offload-device ${text}: unknown driver '${driver}' (${Object.keys(deviceSchemas).join(', ')})`,
    );
  }
  const device: Record<string, unknown> = { driver };
  if (colon >= 0) device.name = head.slice(colon + 1);
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--offload-device ${text}: '${pair}' is not KEY=VALUE`);
    device[pair.slice(0, equals)] = optionValue(pair.slice(equals + 1));
  }
  const error = Value.Errors(schema, device)[0];
  if (error !== undefined) {
    const path = error.instancePath === '' ? '' : `${error.instancePath}: `;
    throw new UsageError(`--offload-device ${text}: ${path}${error.message}`);
  }
  return device as OffloadDevice;
}

/** The name a device gets in placements and the API when its configuration gives none (as its driver does). */
function deviceName(device: OffloadDevice): string {
  if (device.name !== undefined) return device.name;
  if (device.driver === 'emulated-nic') return 'emu0';
  return device.offloadDevice === undefined ? 'xfrm' : `xfrm:${device.offloadDevice}`;
}

function deviceSpec(device: OffloadDevice): DeviceSpec {
  const { name: _name, ...options } = device;
  return { ...options, device: deviceName(device) } as DeviceSpec;
}

export interface OffloadIssue {
  /** `/offload/devices/1/name` in the configuration, or `--offload-device` for the command line's. */
  readonly path: string;
  readonly message: string;
}

/**
 * What `espresso serve` starts the placement manager with: the configuration's devices, then the
 * command line's; the default mode from the command line, else the configuration. Device names must
 * differ from each other and from the software datapath's.
 */
export function offloadSetup(
  datapath: SoftwareDatapath,
  settings: OffloadSettings | null,
  extraDevices: readonly OffloadDevice[],
  defaultMode: OffloadMode | undefined,
): { setup: PlacementSetup; issues: OffloadIssue[] } {
  const issues: OffloadIssue[] = [];
  const devices = [
    ...(settings?.devices ?? []).map((device, i) => ({ device, where: `/offload/devices/${i}` })),
    ...extraDevices.map((device) => ({ device, where: '--offload-device' })),
  ];
  const seen = new Map<string, string>([[datapath.name, "the software datapath's name"]]);
  for (const { device, where } of devices) {
    const name = deviceName(device);
    const taken = seen.get(name);
    const path = where.startsWith('/') ? `${where}/name` : where;
    if (taken !== undefined) issues.push({ path, message: `'${name}' is already ${taken}` });
    else
      seen.set(
        name,
        where.startsWith('/') ? `the name of ${where}` : 'the name of an earlier --offload-device',
      );
  }
  const mode = defaultMode ?? settings?.defaultMode;
  return {
    setup: {
      datapath,
      devices: devices.map(({ device }) => deviceSpec(device)),
      ...(mode === undefined ? {} : { defaultMode: mode }),
      ...(settings?.acceptFragments === undefined ? {} : { acceptFragments: settings.acceptFragments }),
    },
    issues,
  };
}

export interface OffloadOptions {
  readonly devices: readonly OffloadDevice[];
  readonly mode: OffloadMode | undefined;
}

/** `--offload-device SPEC` (any number of them) and `--offload-mode MODE`; throws UsageError. */
export function offloadOptions(args: ParsedArgs): OffloadOptions {
  const given = args.values['offload-device'];
  const specs = Array.isArray(given) ? given : given === undefined ? [] : [given];
  const mode = stringOption(args, 'offload-mode');
  if (mode !== undefined && !(offloadModes as readonly string[]).includes(mode)) {
    throw new UsageError(`--offload-mode: '${mode}' is not one of ${offloadModes.join(', ')}`);
  }
  return {
    devices: specs.map((spec) => parseDeviceOption(String(spec))),
    mode: mode as OffloadMode | undefined,
  };
}

/**
 * `espresso serve`'s placement manager over its software datapath, from the configuration's `offload`
 * and the command line; prints every problem (one line each, the configuration's with their path) and
 * answers null when there is one.
 */
export async function startOffload(
  datapath: SoftwareDatapath,
  settings: OffloadSettings | null,
  options: OffloadOptions,
  configFile: string | undefined,
  io: CommandIo,
): Promise<PlacementManager | null> {
  const { setup, issues } = offloadSetup(datapath, settings, options.devices, options.mode);
  for (const issue of issues) {
    io.err(
      `espresso: ${issue.path.startsWith('/') ? `${configFile}: ` : ''}${issue.path}: ${issue.message}\n`,
    );
  }
  return issues.length === 0 ? startPlacement(setup, io) : null;
}

/**
 * Starts the placement manager over the software datapath, and says on stderr what each device is. A
 * device that cannot start (an emulator thread that fails, a domain it refuses) is reported and null
 * returned; a driver that starts but cannot work here (no netlink helper) is up as unavailable, so SAs
 * asking for `auto` fall back with the reason.
 */
export async function startPlacement(setup: PlacementSetup, io: CommandIo): Promise<PlacementManager | null> {
  let manager: PlacementManager;
  try {
    manager = await createPlacementManager(setup);
  } catch (error) {
    io.err(`espresso: offload: a device did not start: ${(error as Error).message}\n`);
    return null;
  }
  for (const device of manager.devices) {
    const caps = device.capabilities();
    const reason = device.unavailable();
    const kinds = caps.offload.join('+') || 'no';
    io.err(
      `espresso: offload device ${device.device} (${device.driver}): ` +
        (reason === null ? `${kinds} offload, fragments ${caps.fragments}\n` : `unavailable: ${reason}\n`),
    );
  }
  return manager;
}
