import { internetChecksum, readU16, writeU16 } from '@espresso/wire';
import type { SendQueue } from './send-queue.ts';

const scratch = new Uint8Array(60);

/**
 * Splits the IPv4 packet `buf[offset, offset + total)` into fragments of at most `maxBytes` each (RFC 791
 * §3.2) and queues them: don't-fragment IP-TFS carries an IPv4 packet without DF this way when it does
 * not fit one outer payload (RFC 9347 §2.2.6). Options without the copied flag stay in the first
 * fragment only. Either every fragment is queued or none is: returns false when the queue has no room
 * or `maxBytes` leaves no room for 8 octets of data.
 */
export function queueIpv4Fragments(
  queue: SendQueue,
  buf: Uint8Array,
  offset: number,
  total: number,
  maxBytes: number,
  now: number,
): boolean {
  const headerLength = (buf[offset]! & 0x0f) << 2;
  const laterHeaderLength = copiedOptionsHeaderLength(buf, offset, headerLength);
  const firstData = (maxBytes - headerLength) & ~7;
  const laterData = (maxBytes - laterHeaderLength) & ~7;
  if (firstData < 8 || laterData < 8) return false;
  const dataLength = total - headerLength;
  const fragments = 1 + Math.ceil(Math.max(0, dataLength - firstData) / laterData);
  const needed = dataLength + headerLength + (fragments - 1) * laterHeaderLength;
  if (needed > queue.freeBytes || fragments > queue.freeEntries) return false;

  const flagsOffset = readU16(buf, offset + 6);
  const moreAfter = (flagsOffset & 0x2000) !== 0;
  const baseUnits = flagsOffset & 0x1fff;
  let done = 0;
  let first = true;
  while (done < dataLength) {
    const hl = first ? headerLength : laterHeaderLength;
    const room = first ? firstData : laterData;
    const piece = Math.min(room, dataLength - done);
    const last = done + piece === dataLength;
    if (first) scratch.set(buf.subarray(offset, offset + headerLength));
    else writeCopiedHeader(buf, offset, headerLength, laterHeaderLength);
    scratch[0] = 0x40 | (hl >>> 2);
    writeU16(scratch, 2, hl + piece);
    writeU16(scratch, 6, (last && !moreAfter ? 0 : 0x2000) | (baseUnits + (done >>> 3)));
    writeU16(scratch, 10, 0);
    writeU16(scratch, 10, internetChecksum(scratch, 0, hl));
    if (!queue.begin(hl + piece, now)) return false;
    queue.append(scratch, 0, hl);
    queue.append(buf, offset + headerLength + done, piece);
    queue.finish();
    done += piece;
    first = false;
  }
  return true;
}

/** Header length of a non-first fragment: the fixed header plus the copied options, padded to 4. */
function copiedOptionsHeaderLength(buf: Uint8Array, offset: number, headerLength: number): number {
  let n = 20;
  forEachOption(buf, offset, headerLength, (at, length) => {
    if ((buf[at]! & 0x80) !== 0) n += length;
  });
  return (n + 3) & ~3;
}

/** Fills `scratch` with the fixed header and the copied options, EOL-padded. */
function writeCopiedHeader(buf: Uint8Array, offset: number, headerLength: number, to: number): void {
  scratch.set(buf.subarray(offset, offset + 20));
  let n = 20;
  forEachOption(buf, offset, headerLength, (at, length) => {
    if ((buf[at]! & 0x80) === 0) return;
    scratch.set(buf.subarray(at, at + length), n);
    n += length;
  });
  scratch.fill(0, n, to);
}

function forEachOption(
  buf: Uint8Array,
  offset: number,
  headerLength: number,
  visit: (at: number, length: number) => void,
): void {
  let at = offset + 20;
  const end = offset + headerLength;
  while (at < end) {
    const type = buf[at]!;
    if (type === 0) return;
    if (type === 1) {
      at++;
      continue;
    }
    const length = at + 1 < end ? buf[at + 1]! : 0;
    if (length < 2 || at + length > end) return;
    visit(at, length);
    at += length;
  }
}
