/** What a sink saw. `lost` is filled in by `finish`, against what the generator sent. */
export interface SinkCounts {
  /** Distinct, intact packets of this run. */
  delivered: number;
  deliveredBytes: number;
  duplicated: number;
  /** Bytes differ from the template, the stamp does not add up, or the length is wrong. */
  corrupted: number;
  /** Intact stamps the generator never sent: another run's, or a sequence number beyond what was sent. */
  unexpected: number;
  /** Arrived after a packet of the same flow with a higher sequence number. */
  reordered: number;
  /** Times a flow's sequence jumped ahead (packets missing at that moment). */
  gaps: number;
  /** Too far behind to tell whether it is a duplicate; counted as delivered. */
  tooOld: number;
  /** Sent and never delivered (after `finish`). */
  lost: number;
}

export function emptySinkCounts(): SinkCounts {
  return {
    delivered: 0,
    deliveredBytes: 0,
    duplicated: 0,
    corrupted: 0,
    unexpected: 0,
    reordered: 0,
    gaps: 0,
    tooOld: 0,
    lost: 0,
  };
}
