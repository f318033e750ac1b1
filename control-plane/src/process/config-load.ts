import { readConfigFile } from '../config/config-file.ts';
import { checkProcessConfig, type ProcessConfig } from './process-config.ts';

/**
 * Reads and checks a configuration file for `espresso process`: its shape against the published schema,
 * then everything applying it would check, then what an offline run needs. Throws `ConfigFileError`
 * naming every field at fault; nothing has been processed then.
 */
export async function loadProcessConfig(path: string): Promise<ProcessConfig> {
  return checkProcessConfig(await readConfigFile(path), path);
}
