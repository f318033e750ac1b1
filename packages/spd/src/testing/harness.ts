import assert from 'node:assert/strict';
import { createFlowKey, type FlowKey, parseIpAddress } from '@espresso/wire';
import { SpdClassifier } from '../classifier.ts';
import { firstMatch } from '../first-match.ts';
import { type DefaultActions, Direction, type DirectionName } from '../policy.ts';
import type { PolicyConfig } from '../schema.ts';
import { compileSpd, type SpdSnapshot } from '../snapshot.ts';
import { parsePolicyConfig } from '../validate.ts';

export interface PacketSpec {
  readonly src: string;
  readonly dst: string;
  readonly protocol?: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly dscp?: number;
  readonly direction?: DirectionName;
  readonly ifId?: number;
  readonly mark?: number;
}

export function flowKey(spec: PacketSpec): FlowKey {
  const key = createFlowKey();
  const src = parseIpAddress(spec.src);
  const dst = parseIpAddress(spec.dst);
  if (src === null || dst === null || src.version !== dst.version)
    throw new Error(`bad test packet ${spec.src}`);
  key.version = src.version;
  key.src.set(src.words);
  key.dst.set(dst.words);
  key.protocol = spec.protocol ?? 6;
  key.srcPort = spec.srcPort ?? 40000;
  key.dstPort = spec.dstPort ?? 443;
  key.dscp = spec.dscp ?? 0;
  return key;
}

/**
 * A small SPD under test: `decide` classifies a packet through the compiled lookup (twice, so the
 * second answer comes from the flow cache) and checks it against the first-match scan; it returns the
 * matched policy's id, or "default allow" / "default drop".
 */
export class SpdUnderTest {
  readonly snapshot: SpdSnapshot;
  private readonly classifier: SpdClassifier;

  constructor(configs: readonly PolicyConfig[], defaults?: DefaultActions) {
    const policies = configs.map((c, i) => parsePolicyConfig({ id: `p${i}`, ...c }));
    this.snapshot = compileSpd(policies, 1, defaults ? { defaults } : {});
    this.classifier = new SpdClassifier(this.snapshot, { cacheSlots: 256 });
  }

  decide(spec: PacketSpec): string {
    const key = flowKey(spec);
    const direction = spec.direction ?? 'out';
    const ifId = spec.ifId ?? 0;
    const mark = spec.mark ?? 0;
    const expected = firstMatch(this.snapshot.policies, key, direction, ifId, mark);
    let answer = '';
    for (let round = 0; round < 2; round++) {
      const entry = this.classifier.classify(key, Direction[direction], ifId, mark);
      assert.equal(
        this.classifier.policyIndex(entry),
        expected,
        'compiled lookup disagrees with first match',
      );
      answer =
        entry < 0
          ? `default ${this.snapshot.defaults[direction]}`
          : (this.classifier.policy(entry)?.id ?? 'missing');
    }
    return answer;
  }
}
