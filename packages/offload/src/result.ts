/**
 * Why a driver refused something: a stable code the placement manager decides on (fall back or fail)
 * and the API shows, with a message for people. Expected refusals are results, never exceptions.
 */
export const OffloadErrorCode = {
  /** The device's SAD or policy table is full. */
  capacity: 'capacity',
  /** The algorithm, key size or ICV length is not offloadable there. */
  algorithm: 'algorithm',
  replayWindow: 'replay-window',
  esn: 'esn',
  encap: 'encap',
  iptfs: 'iptfs',
  /** The ESP mode (tunnel, transport, BEET) or the offload kind (packet, crypto) is not supported. */
  mode: 'mode',
  /** The device's fragment policy is one the operator does not accept. */
  fragments: 'fragments',
  /** The device went away, or never answered. */
  deviceGone: 'device-gone',
  /** The SA's SAD domain is not one the device knows. */
  domain: 'domain',
  /** Configuration from a domain the device does not trust, or one claiming another domain's identity. */
  untrusted: 'untrusted',
  notFound: 'not-found',
  exists: 'exists',
  /** The driver does not do this at all (a selector it cannot express, an operation it lacks). */
  unsupported: 'unsupported',
  /** The kernel refused, for a reason no other code covers (its errno and message are in the text). */
  kernel: 'kernel',
  /** The software datapath refused. */
  datapath: 'datapath',
  /** The driver cannot run here (helper not built, no permission). */
  unavailable: 'unavailable',
  invalid: 'invalid',
} as const;
export type OffloadErrorCode = (typeof OffloadErrorCode)[keyof typeof OffloadErrorCode];

export const offloadErrorCodes: readonly OffloadErrorCode[] = Object.values(OffloadErrorCode);

export interface OffloadError {
  readonly code: OffloadErrorCode;
  readonly message: string;
}

export type OffloadResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: OffloadError };

export function ok<T>(value: T): OffloadResult<T> {
  return { ok: true, value };
}

export const done: OffloadResult<void> = Object.freeze({ ok: true, value: undefined });

export function refuse<T = never>(code: OffloadErrorCode, message: string): OffloadResult<T> {
  return { ok: false, error: { code, message } };
}

/** `code: message`, as errors and logs show a refusal. */
export function describeError(error: OffloadError): string {
  return `${error.code}: ${error.message}`;
}
