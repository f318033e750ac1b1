import { ConfigDocument, OffloadSettings } from '@espresso/api';
import { type Static, Type } from 'typebox';
import { InterfacesSchema } from './interfaces-schema.ts';

/** The configuration file format this Espresso reads and writes. */
export const CONFIG_FORMAT_VERSION = 1;

/** Where the published JSON Schema lives in the repository, relative to its root. */
export const CONFIG_SCHEMA_PATH = 'docs/config.schema.json';

/**
 * A configuration file: the document PUT /v1/config takes (SPI settings, SA groups, SAs with their
 * keys, the SPD), plus `$schema` for editors and the format `version`. Neither of those two reaches the
 * control plane: the loader checks and removes them, and `interfaces` and `offload` (read by
 * `espresso serve`).
 */
export const ConfigFile = Type.Object(
  {
    $schema: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'where editors find this schema, e.g. a path to docs/config.schema.json; not read otherwise',
      }),
    ),
    version: Type.Optional(
      Type.Literal(CONFIG_FORMAT_VERSION, {
        description: `configuration format; ${CONFIG_FORMAT_VERSION} (the default) is the only one so far`,
      }),
    ),
    ...ConfigDocument.properties,
    interfaces: Type.Optional(InterfacesSchema),
    offload: Type.Optional(OffloadSettings),
  },
  {
    additionalProperties: false,
    title: 'Espresso configuration',
    description:
      'SAs (the ESP SA configuration, keys included), SA groups, SPI settings and the SPD: the document ' +
      'PUT /v1/config applies and `espresso process --config` reads',
  },
);
export type ConfigFile = Static<typeof ConfigFile>;
