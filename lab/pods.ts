// Pod wiring: a pod is a namespace attached to its node's `cni0` by a real CNI plugin run inside the
// node namespace. Which plugin is one choice, DEFAULT_POD_NETWORK: the reference plugins directly
// (`bridge` + `host-local`, the netconf Flannel's CNI plugin would delegate), or `weft-cni`, which
// reads subnet.env and delegates to them itself. host-local keeps its state under the node's own
// folder, because every lab node shares one filesystem.
import { join } from 'node:path';
import { LabError } from './errors.js';
import { nsRun } from './exec.js';
import { REPO_ROOT } from './paths.js';
import { readSubnetEnv } from './weft-node.js';
import type { SubnetEnv } from './flannel-format.js';
import type { NodeRecord } from './state.js';

const CNI_PATH = '/usr/lib/cni';
const CNI_NETWORK_NAME = 'weft-lab';

export interface PodAttachment {
  node: NodeRecord;
  podNs: string;
  containerId: string;
}

/**
 * A pod's addresses (no prefix length): `ip` the primary one (IPv4, or IPv6 on an IPv6-only node),
 * `ip6` when its node's subnet.env has an IPv6 subnet.
 */
export interface PodAddresses {
  ip: string;
  ip6?: string;
}

export interface PodNetwork {
  readonly name: string;
  /** Attaches the pod; returns its addresses. */
  add(a: PodAttachment): Promise<PodAddresses>;
  del(a: PodAttachment): Promise<void>;
}

function nodeEnv(a: PodAttachment): SubnetEnv {
  const env = readSubnetEnv(a.node.subnetFile);
  if (!env) throw new LabError(`${a.node.subnetFile} has no FLANNEL_SUBNET (or FLANNEL_IPV6_SUBNET) and FLANNEL_MTU yet: is ${a.node.name}'s network up?`);
  return env;
}

async function invoke(a: PodAttachment, command: 'ADD' | 'DEL', exe: readonly string[], netconf: object): Promise<string> {
  const env = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: `/run/netns/${a.podNs}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH,
  };
  try {
    return await nsRun(a.node.ns, exe[0], exe.slice(1), { env, input: JSON.stringify(netconf) });
  } catch (err) {
    throw new LabError(`CNI ${command} of ${a.podNs} on ${a.node.name} (${exe.join(' ')}) failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The pod's addresses from a CNI result: an address of each family `env` has a subnet of. */
function podIps(result: string, env: SubnetEnv): PodAddresses {
  const parsed = JSON.parse(result) as { ips?: { address: string }[] };
  const address = parsed.ips?.find((i) => i.address.includes('.'))?.address?.split('/')[0];
  const address6 = parsed.ips?.find((i) => i.address.includes(':'))?.address?.split('/')[0];
  if (env.subnet !== undefined && !address) throw new LabError(`CNI result has no IPv4 address: ${result}`);
  if (env.subnet6 !== undefined && !address6) throw new LabError(`CNI result has no IPv6 address: ${result}`);
  const ip = (address ?? address6) as string;
  return { ip, ...(address6 ? { ip6: address6 } : {}) };
}

/** `bridge` + `host-local` from /usr/lib/cni, configured from the node's subnet.env as Flannel's CNI plugin does. */
export const bridgeHostLocal: PodNetwork = {
  name: 'bridge+host-local',
  async add(a) {
    return podIps(await invoke(a, 'ADD', [join(CNI_PATH, 'bridge')], bridgeNetconf(a)), nodeEnv(a));
  },
  async del(a) {
    await invoke(a, 'DEL', [join(CNI_PATH, 'bridge')], bridgeNetconf(a));
  },
};

function bridgeNetconf(a: PodAttachment): object {
  const env = nodeEnv(a);
  // As Flannel's CNI plugin delegates it: one range set and one route per family the node has.
  const families = [
    ...(env.subnet !== undefined ? [{ subnet: env.subnet, network: env.network }] : []),
    ...(env.subnet6 !== undefined ? [{ subnet: env.subnet6, network: env.ipv6Network }] : []),
  ];
  const ranges = families.map((f) => [{ subnet: f.subnet }]);
  const routes = families.map((f) => ({ dst: f.network }));
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK_NAME,
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    hairpinMode: true,
    // Pod-to-pod traffic must keep pod source addresses across the overlay.
    ipMasq: false,
    mtu: env.mtu,
    ipam: { type: 'host-local', ranges, routes, dataDir: join(a.node.dir, 'ipam') },
  };
}

/** `weft-cni` (bin/weft-cni.js), delegating to bridge + host-local from CNI_PATH. */
export const weftCni: PodNetwork = {
  name: 'weft-cni',
  async add(a) {
    return podIps(await invoke(a, 'ADD', [process.execPath, join(REPO_ROOT, 'bin', 'weft-cni.js')], weftNetconf(a)), nodeEnv(a));
  },
  async del(a) {
    await invoke(a, 'DEL', [process.execPath, join(REPO_ROOT, 'bin', 'weft-cni.js')], weftNetconf(a));
  },
};

function weftNetconf(a: PodAttachment): object {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK_NAME,
    type: 'weft',
    subnetFile: a.node.subnetFile,
    dataDir: join(a.node.dir, 'cni'),
    // As in bridgeHostLocal: pod-to-pod traffic keeps pod source addresses.
    delegate: { ipMasq: false },
  };
}

/** The plugin the lab wires pods with: weft-cni, as a weft cluster does (`--cni bridge` for the plugins directly). */
export const DEFAULT_POD_NETWORK: PodNetwork = weftCni;
