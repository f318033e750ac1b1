import type { ConfigDocument, SaDocumentEntry } from '@espresso/api';
import type { ControlPlane } from './control-plane.ts';

/**
 * The running configuration as a document PUT /v1/config accepts back unchanged: each SA's keys
 * replaced by their fingerprint, its starting sequence state as the SAD holds it.
 */
export function readConfig(cp: ControlPlane): ConfigDocument {
  const spis = cp.sad.spis;
  const sas: SaDocumentEntry[] = cp.sad.list().map((sa) => ({
    name: sa.name,
    ...(sa.reqid === null ? {} : { reqid: sa.reqid }),
    ...(sa.binding === null ? {} : { binding: sa.binding }),
    ...sa.config,
    keyFingerprint: sa.fingerprint,
  }));
  return {
    spi: { min: spis.range.min, max: spis.range.max, unusedTimeoutMs: spis.unusedTimeoutMs },
    saGroups: cp.sad.groups().map((g) => ({
      name: g.spec.name,
      resource: g.spec.resource,
      ...(g.spec.selectors === undefined ? {} : { selectors: { ...g.spec.selectors } }),
      ...(g.spec.description === undefined ? {} : { description: g.spec.description }),
    })),
    sas,
    spd: { ...cp.spd.toConfig(), acquire: { ...cp.acquires.settings } },
  };
}
