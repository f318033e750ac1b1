import { describe, it } from 'node:test';
import { allCipherSpecs, cipherSpecVariantName } from './cipher-spec.ts';
import type { CryptoEngine } from './engine.ts';
import { checkAgreement, checkImplicitIv } from './engine-suite/agreement.ts';
import { checkBadInput } from './engine-suite/bad-input.ts';
import { hasIntegrity, representativeSpecs } from './engine-suite/fixtures.ts';
import { checkLifecycle } from './engine-suite/lifecycle.ts';
import { describeVectors } from './engine-suite/published-vectors.ts';
import { describeSupports } from './engine-suite/supports.ts';
import { checkTampering } from './engine-suite/tampering.ts';
import { nobleEngine } from './engines/noble.ts';
import { nodeEngine } from './engines/node.ts';

export interface EngineContractOptions {
  /** The engine outputs are compared with: noble by default, node when testing noble itself. */
  readonly reference?: CryptoEngine;
  /** fast-check runs per spec for the agreement property (default 30). */
  readonly numRuns?: number;
  /**
   * The engine keeps its key material in typed-array fields of the cipher object (named *key*, *nonce*,
   * xk...): check they hold something before destroy() and only zeros after. Off for engines whose
   * keys live outside JavaScript (a native addon checks its own).
   */
  readonly keyFieldsInJs?: boolean;
}

/**
 * The contract every crypto engine passes (registered with node:test): published vectors, agreement
 * with the reference on random input, tampering, bad descriptors and lengths, batch isolation, honest
 * `supports()`, lifecycle. An engine that is not available here is skipped with its reason.
 */
export function describeEngineContract(engine: CryptoEngine, options: EngineContractOptions = {}): void {
  const reference = options.reference ?? (engine.name === nobleEngine.name ? nodeEngine : nobleEngine);
  const numRuns = options.numRuns ?? 30;
  const skip = engine.available ? false : `engine '${engine.name}' unavailable: ${engine.unavailableReason}`;
  const specs = allCipherSpecs().filter((s) => engine.supports(s));

  describe(`crypto engine contract: ${engine.name}`, { skip }, () => {
    describe('supports() is honest', () => describeSupports(engine));
    describe('published vectors', () => describeVectors(engine));
    describe(`agrees with ${reference.name} on random packets`, () => {
      for (const spec of specs) {
        it(cipherSpecVariantName(spec), () => checkAgreement(engine, reference, spec, numRuns));
      }
    });
    describe('implicit IV (RFC 8750) = explicit IV of seqHigh || seq, left off the wire', () => {
      for (const spec of specs.filter((s) => s.implicitIv && engine.supports({ ...s, implicitIv: false }))) {
        it(cipherSpecVariantName(spec), () => checkImplicitIv(engine, spec));
      }
    });
    describe('tampered packets fail and do not disturb their neighbours', () => {
      for (const spec of specs.filter(hasIntegrity)) {
        it(cipherSpecVariantName(spec), () => checkTampering(engine, spec));
      }
    });
    describe('bad descriptors and lengths', () => {
      for (const spec of representativeSpecs(specs)) {
        it(cipherSpecVariantName(spec), () => checkBadInput(engine, reference, spec));
      }
    });
    describe('lifecycle', () => {
      for (const spec of representativeSpecs(specs)) {
        it(cipherSpecVariantName(spec), () =>
          checkLifecycle(engine, reference, spec, options.keyFieldsInJs === true),
        );
      }
    });
  });
}
