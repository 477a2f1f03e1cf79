// CNI errors: what the runtime reads on stdout when weft-cni exits 1 (CNI SPEC 1.1.0 §Error).
// Codes 0-99 are the spec's; the message says what went wrong and what the operator should do.

export const ErrCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetconf: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  NotAvailableLimited: 51,
  Internal: 999,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = { cniVersion, code: this.code, msg: this.message };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Said wherever the cause is weftd not (yet) doing its job on this node. */
export const CHECK_WEFTD =
  'is weftd running on this node? check its log (the weft DaemonSet pod on this node, or `journalctl -u weftd`)';
