import { SpdConfigSchema } from '@espresso/spd';
import { type Static, Type } from 'typebox';
import { Fingerprint, Name } from './common.ts';
import { SaCreate } from './sa.ts';
import { SaGroupCreate } from './sa-group.ts';
import { SpiSettings } from './spi.ts';

const create = SaCreate.properties;
const { key: _key, ...encryptionFields } = create.encryption.properties;
const integrityFields = create.integrity.properties;

/**
 * An SA in a configuration document: as POST /v1/sas takes it, except that the keys may be left out
 * in favour of `keyFingerprint`, meaning "keep the keys of the SA of this name, whose fingerprint this
 * is". Reading the configuration back gives that form, so it can be applied again unchanged.
 */
export const SaDocumentEntry = Type.Object(
  {
    ...create,
    name: Name,
    encryption: Type.Object(
      { ...encryptionFields, key: Type.Optional(create.encryption.properties.key) },
      { additionalProperties: false },
    ),
    integrity: Type.Optional(
      Type.Object(
        { algorithm: integrityFields.algorithm, key: integrityFields.key },
        { additionalProperties: false },
      ),
    ),
    keyFingerprint: Type.Optional(Fingerprint),
  },
  { additionalProperties: false },
);
export type SaDocumentEntry = Static<typeof SaDocumentEntry>;

/** The whole configuration: GET /v1/config returns it, PUT applies it all or nothing. */
export const ConfigDocument = Type.Object(
  {
    spi: Type.Optional(SpiSettings),
    saGroups: Type.Optional(Type.Array(SaGroupCreate)),
    sas: Type.Optional(Type.Array(SaDocumentEntry)),
    spd: Type.Optional(SpdConfigSchema),
  },
  { additionalProperties: false },
);
export type ConfigDocument = Static<typeof ConfigDocument>;

const Names = Type.Array(Name);

export const ConfigChanges = Type.Object(
  {
    sas: Type.Object(
      { added: Names, removed: Names, replaced: Names, kept: Names },
      { additionalProperties: false },
    ),
    saGroups: Type.Object({ added: Names, removed: Names, updated: Names }, { additionalProperties: false }),
    policies: Type.Integer({ minimum: 0, description: 'policies in the new SPD' }),
    spdVersion: Type.Integer(),
  },
  { additionalProperties: false },
);

export const ConfigValidation = Type.Object(
  { valid: Type.Literal(true), changes: ConfigChanges },
  { additionalProperties: false, description: 'what applying the document would change' },
);

export const ConfigApplied = Type.Object(
  { applied: Type.Literal(true), changes: ConfigChanges },
  { additionalProperties: false },
);
