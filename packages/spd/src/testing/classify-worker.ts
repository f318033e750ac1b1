import { parentPort } from 'node:worker_threads';
import { createFlowKey } from '@espresso/wire';
import { SpdClassifier } from '../classifier.ts';
import { fromTransfer } from '../snapshot.ts';

/**
 * A worker as the datapath would run one: it receives an SPD snapshot message, rebuilds its own lookup
 * from it, and classifies the flows it is sent (columns of numbers), answering with policy indexes.
 */
export interface ClassifyRequest {
  readonly snapshot: unknown;
  /** Per flow: version, src words 0..3, dst words 0..3, protocol, srcPort, dstPort, dscp, direction. */
  readonly flows: Float64Array;
}

export const FLOW_FIELDS = 15;

parentPort?.on('message', (request: ClassifyRequest) => {
  const snapshot = fromTransfer(request.snapshot);
  const classifier = new SpdClassifier(snapshot);
  const key = createFlowKey();
  const f = request.flows;
  const answers: number[] = [];
  for (let o = 0; o < f.length; o += FLOW_FIELDS) {
    key.version = f[o] === 6 ? 6 : 4;
    for (let w = 0; w < 4; w++) {
      key.src[w] = f[o + 1 + w]!;
      key.dst[w] = f[o + 5 + w]!;
    }
    key.protocol = f[o + 9]!;
    key.srcPort = f[o + 10]!;
    key.dstPort = f[o + 11]!;
    key.dscp = f[o + 12]!;
    const direction = f[o + 13]! as 0 | 1 | 2;
    answers.push(classifier.policyIndex(classifier.classify(key, direction, 0, 0)));
  }
  parentPort?.postMessage({
    version: snapshot.version,
    answers,
    sharedEntries: snapshot.entries.buffer instanceof SharedArrayBuffer,
    shippedTree: snapshot.tree !== undefined,
  });
});
