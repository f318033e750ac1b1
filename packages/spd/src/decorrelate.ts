import { type Box, contains, ENTRY_STRIDE, F, overlaps, policyBox, subtract } from './box.ts';
import { SpdError, SpdErrorCode } from './errors.ts';
import type { Policy } from './policy.ts';
import { PrefixTrie } from './prefix-trie.ts';

export const DEFAULT_MAX_ENTRIES = 1_000_000;

/** Policies that can share a packet: same direction, family and interface id (if_id matches exactly). */
class Partition {
  readonly boxes: Box[] = [];
  readonly src: PrefixTrie;
  readonly dst: PrefixTrie;

  constructor(family: number) {
    const start = family === 4 ? 96 : 0;
    this.src = new PrefixTrie(start);
    this.dst = new PrefixTrie(start);
  }

  /** Earlier boxes that may overlap `box`, from whichever address index narrows them down more. */
  candidates(box: Box, out: number[]): void {
    const bySrc = this.src.count(box, F.src, box[F.srcLen]!);
    const byDst = this.dst.count(box, F.dst, box[F.dstLen]!);
    if (bySrc <= byDst) this.src.collect(box, F.src, box[F.srcLen]!, out);
    else this.dst.collect(box, F.dst, box[F.dstLen]!, out);
  }

  add(box: Box): void {
    const item = this.boxes.length;
    this.boxes.push(box);
    this.src.insert(box, F.src, box[F.srcLen]!, item);
    this.dst.insert(box, F.dst, box[F.dstLen]!, item);
  }
}

/**
 * `box` minus every box of `earlier` (all of which overlap it), as disjoint pieces. Divide and conquer:
 * cut `box` by the first earlier box, then give each piece only the earlier boxes that overlap it. A
 * policy after thousands of others (a catch-all) so costs about its pieces times the few boxes each
 * piece meets, not its pieces times all the boxes.
 */
function remainder(box: Box, earlier: readonly Box[]): Box[] {
  const out: Box[] = [];
  const work: [Box, readonly Box[]][] = [[box, earlier]];
  const cut: Box[] = [];
  while (work.length > 0) {
    const [piece, against] = work.pop()!;
    if (against.length === 0) {
      out.push(piece);
      continue;
    }
    cut.length = 0;
    subtract(piece, against[0]!, cut);
    // Pushed last to first, so pieces come out in the order subtract() made them.
    for (let c = cut.length - 1; c >= 0; c--) {
      const part = cut[c]!;
      const meets: Box[] = [];
      let covered = false;
      for (let i = 1; i < against.length; i++) {
        const other = against[i]!;
        if (!overlaps(other, part)) continue;
        if (contains(other, part)) {
          covered = true;
          break;
        }
        meets.push(other);
      }
      if (!covered) work.push([part, meets]);
    }
  }
  return out;
}

export interface Decorrelated {
  /** ENTRY_STRIDE words per entry; word F.policy is the index of the ordered policy it comes from. */
  readonly entries: Uint32Array;
  readonly count: number;
}

/**
 * RFC 4301 §4.4.1 decorrelation: turns the ordered SPD into entries that never overlap, each carrying
 * the first ordered policy that covers it, so a lookup can take any matching entry. Each policy's box
 * loses what earlier policies of its partition cover (policies fully shadowed contribute nothing).
 * Throws SpdError too-large when the result would exceed `maxEntries`.
 */
export function decorrelate(ordered: readonly Policy[], maxEntries = DEFAULT_MAX_ENTRIES): Decorrelated {
  const partitions = new Map<string, Partition>();
  const out: Box[] = [];
  const candidates: number[] = [];
  ordered.forEach((policy, index) => {
    const box = policyBox(policy, index);
    const key = `${box[F.direction]}/${box[F.family]}/${box[F.ifId]}`;
    let partition = partitions.get(key);
    if (partition === undefined) {
      partition = new Partition(box[F.family]!);
      partitions.set(key, partition);
    }
    candidates.length = 0;
    partition.candidates(box, candidates);
    const overlapping: Box[] = [];
    for (const c of candidates) {
      const earlier = partition.boxes[c]!;
      if (!overlaps(earlier, box)) continue;
      if (contains(earlier, box)) return;
      overlapping.push(earlier);
    }
    const pieces = remainder(box, overlapping);
    if (out.length + pieces.length > maxEntries) {
      throw new SpdError(SpdErrorCode.tooLarge, [
        {
          path: '',
          message: `decorrelating the SPD needs more than ${maxEntries} entries (reached at policy "${policy.id}")`,
        },
      ]);
    }
    for (const piece of pieces) out.push(piece);
    partition.add(box);
  });
  const entries = new Uint32Array(out.length * ENTRY_STRIDE);
  out.forEach((piece, i) => {
    entries.set(piece, i * ENTRY_STRIDE);
  });
  return { entries, count: out.length };
}
