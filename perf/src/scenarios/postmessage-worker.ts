import { parentPort, workerData } from 'node:worker_threads';
import {
  createPacketVector,
  createSaRuntime,
  EspOutbound,
  type SaConfig,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';

/**
 * The baseline design's worker: one message per packet in, ESP in a buffer of its own, one message per
 * packet out. It does the same ESP work as a ring worker (tunnel mode, AES-GCM-256, its own SA), one
 * packet per call, since a message carries one packet.
 */
const { config } = workerData as { config: SaConfig };
const sa = createSaRuntime(config);
const encoder = new EspOutbound({ capacity: 1 });
const SLOT = 2048;
const HEADROOM = 128;
const buffer = new Uint8Array(SLOT);
const v = createPacketVector(buffer, 1);
let refused = 0;

parentPort!.on('message', (packet: Uint8Array | 'stop') => {
  if (packet === 'stop') {
    sa.destroy();
    parentPort!.postMessage({ refused });
    parentPort!.close();
    return;
  }
  buffer.set(packet, HEADROOM);
  setPacket(v, 0, HEADROOM, packet.length, 0, SLOT);
  v.count = 1;
  encoder.encapsulate(sa, v, 0, 1, Date.now() / 1000);
  if (v.verdict[0] !== VERDICT_FORWARD) {
    refused++;
    parentPort!.postMessage(null);
    return;
  }
  parentPort!.postMessage(buffer.slice(v.offset[0]!, v.offset[0]! + v.length[0]!));
});
