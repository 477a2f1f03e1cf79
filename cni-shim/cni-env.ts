// The CNI_* environment a runtime sets (CNI SPEC 1.1.0 §Parameters), validated per command.
import { CniError, ErrCode } from './errors.js';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

export interface CniEnv {
  readonly command: Command;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly args: string;
  /** CNI_PATH split on ':', empty entries dropped. */
  readonly path: readonly string[];
}

const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function readCniEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND as Command | undefined;
  if (!command) throw new CniError(ErrCode.InvalidEnv, 'CNI_COMMAND is not set: weft-cni is a CNI plugin, run by a container runtime with CNI_COMMAND=ADD|DEL|CHECK|GC|STATUS|VERSION');
  if (!COMMANDS.includes(command)) throw new CniError(ErrCode.InvalidEnv, `CNI_COMMAND=${command} is not one of ${COMMANDS.join(', ')}`);

  const missing = REQUIRED[command].filter((k) => !env[k]);
  if (missing.length > 0) throw new CniError(ErrCode.InvalidEnv, `${command} needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set`);

  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID.test(containerId)) {
    throw new CniError(ErrCode.InvalidEnv, `CNI_CONTAINERID=${containerId} is invalid: it must start with a letter or digit, then only letters, digits, _ . -`);
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname && (ifname.length > 15 || ifname === '.' || ifname === '..' || /[/:\s]/.test(ifname))) {
    throw new CniError(ErrCode.InvalidEnv, `CNI_IFNAME=${ifname} is not a valid interface name (at most 15 characters, no '/', ':' or spaces, not '.' or '..')`);
  }
  return {
    command,
    containerId,
    netns: env.CNI_NETNS ?? '',
    ifname,
    args: env.CNI_ARGS ?? '',
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}
