// Control-plane errors: typed, with a stable code and a message that says what to do next.
// Never used on the per-packet path (constructing an Error captures a stack trace).

export type WeftErrorCode =
  | 'WEFT_ERR_CONFIG'
  | 'WEFT_ERR_NETWORK_CONFIG_MISSING'
  | 'WEFT_ERR_NETWORK_CONFIG_INVALID'
  | 'WEFT_ERR_SUBNETS_EXHAUSTED'
  | 'WEFT_ERR_LEASE_CONFLICT'
  | 'WEFT_ERR_LEASE_LOST'
  | 'WEFT_ERR_IDENTITY_CONFLICT'
  | 'WEFT_ERR_ETCD_UNAVAILABLE'
  | 'WEFT_ERR_SUBNET_FILE'
  | 'WEFT_ERR_TUN'
  | 'WEFT_ERR_UNDERLAY'
  | 'WEFT_ERR_NATIVE'
  | 'WEFT_ERR_GOSSIP'
  | 'WEFT_ERR_IPTABLES'
  | 'WEFT_ERR_STATUS_UNAVAILABLE';

export class WeftError extends Error {
  readonly code: WeftErrorCode;

  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeftError';
    this.code = code;
  }
}

export function isWeftError(err: unknown, code?: WeftErrorCode): err is WeftError {
  return err instanceof WeftError && (code === undefined || err.code === code);
}

/** A readable message for any thrown value, for logs and CLI output. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
