import { CONFIG_SCHEMA_PATH, ConfigFile } from './config-file-schema.ts';

/** The JSON Schema 2020-12 dialect typebox emits. */
const dialect = 'https://json-schema.org/draft/2020-12/schema';

/** The published schema of the configuration file, as plain JSON (what docs/config.schema.json holds). */
export function configSchemaDocument(): Record<string, unknown> {
  return { $schema: dialect, ...(JSON.parse(JSON.stringify(ConfigFile)) as Record<string, unknown>) };
}

/** Where the published schema lives, from this file. */
export function configSchemaUrl(): URL {
  return new URL(`../../../${CONFIG_SCHEMA_PATH}`, import.meta.url);
}
