import type { GroupResourceKind } from './sa-record.ts';

/** The largest worker index and DSCP class a group member may be bound to. */
export const maxResource: Record<GroupResourceKind, number> = { worker: 1023, dscp: 63 };

export interface SaGroupSpec<S = unknown> {
  readonly name: string;
  readonly resource: GroupResourceKind;
  /** The traffic selectors the members share (the SPD's selector form), when given. */
  readonly selectors?: S;
  readonly description?: string;
}

export interface SaGroupMember {
  readonly sa: string;
  readonly direction: 'in' | 'out';
  /** null for the fallback SA. */
  readonly resource: number | null;
}

export interface SaGroupRecord<S = unknown> {
  spec: SaGroupSpec<S>;
  /** Member SA names, in the order they joined (a rekeyed SA joins after the one it replaces). */
  readonly members: Set<string>;
  readonly addedAt: number;
}
