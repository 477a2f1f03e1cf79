// One 2-node lab per plane, each in its own namespaces (prefix <base><k|w|u>-, base `wb` by default), one pod per node; the
// iperf3 server runs in pod 2 and the client in pod 1, as in shared/lab/ANCHORS.md. Dual-stack (for
// the IPv6 tests), pod 2 runs a second iperf3 server on its IPv6 address.
import { destroyNetns } from '../../lab/netns.js';
import { Lab, labNamespaces } from '../../lab/lab.js';
import type { PodRecord, ProcessRecord } from '../../lab/state.js';
import { waitFor } from '../../lab/exec.js';
import { addressOf, ping } from '../../lab/probe.js';
import { logTail } from '../../lab/weft-node.js';
import type { Plane } from './options.js';
import { RR_PORT, RR_SCRIPT } from './measure.js';

export interface PlaneLab {
  plane: Plane;
  lab: Lab;
  client: PodRecord;
  server: PodRecord;
  iperfServer: ProcessRecord;
  /** Dual-stack plane: the iperf3 server on pod 2's IPv6 address. */
  iperfServer6?: ProcessRecord;
  /** weftd of node1 (the client's side: it sends) and node2 (it receives); empty for other planes. */
  weftdPids: number[];
}

const KIND = { kernel: 'kernel', weft: 'weft', 'weft-nooffload': 'weft', 'weft-nocache': 'weft', underlay: 'underlay' } as const;
const PREFIX_LETTER: Record<Plane, string> = { kernel: 'k', weft: 'w', 'weft-nooffload': 'n', 'weft-nocache': 'c', underlay: 'u' };
/** weftd flags a plane adds to the run's own: weft-nooffload is weft with both offloads off, weft-nocache without the decision cache. */
const PLANE_WEFTD_ARGS: Record<Plane, readonly string[]> = { kernel: [], weft: [], 'weft-nooffload': ['--tun-offloads=false', '--udp-offloads=false'], 'weft-nocache': ['--decision-cache=false'], underlay: [] };

export function planePrefix(base: string, plane: Plane): string {
  return `${base}${PREFIX_LETTER[plane]}-`;
}

/**
 * Builds the plane's lab (dual-stack with `dualStack`, for the IPv6 tests); removes a stale one left
 * by an interrupted run first.
 */
export async function buildPlane(base: string, plane: Plane, weftdArgs: readonly string[] = [], dualStack = false): Promise<PlaneLab> {
  const prefix = planePrefix(base, plane);
  await Lab.open(prefix)?.destroy();
  for (const ns of labNamespaces(prefix)) await destroyNetns(ns);
  const lab = await Lab.create({ prefix, dualStack, weftdArgs: [...weftdArgs, ...PLANE_WEFTD_ARGS[plane]] });
  try {
    await lab.addNode(KIND[plane]);
    await lab.addNode(KIND[plane]);
    await lab.syncKernelPeers();
    const client = await lab.addPod('node1');
    const server = await lab.addPod('node2');
    const serverIps = dualStack ? [server.ip, addressOf(server, 6)] : [server.ip];
    for (const ip of serverIps) {
      // A fresh pod resolves its gateway (ARP, or neighbour discovery for IPv6) first: a few tries.
      const probe = await ping(client.ns, ip, { count: 3, intervalS: 0.1, deadlineS: 3 });
      if (probe.received === 0) {
        const logs = lab.state.processes.filter((x) => x.role.startsWith('weftd')).map((x) => `--- ${x.role} log (last lines):\n${logTail(x.log, 8)}`);
        throw new Error(`pod ${client.name} cannot reach pod ${server.name} at ${ip} across the ${plane} plane:\n${probe.output.trim()}\n${logs.join('\n')}`);
      }
    }
    const [iperfServer, iperfServer6] = serverIps.map((ip, i) => lab.startProcess(server.ns, i === 0 ? 'iperf3-server' : 'iperf3-server-v6', 'iperf3', ['-s', '-B', ip]));
    for (const [i, ip] of serverIps.entries()) await listening(lab, server.ns, ip, 5201, 'iperf3 server', i === 0 ? iperfServer : iperfServer6!);
    const rrServer = lab.startProcess(server.ns, 'rr-server', process.execPath, [RR_SCRIPT, 'server', server.ip, String(RR_PORT)]);
    await listening(lab, server.ns, server.ip, RR_PORT, 'request/response server', rrServer);
    const weftdPids = ['node1', 'node2'].flatMap((n) => lab.state.processes.filter((x) => x.role === `weftd ${n}`).map((x) => x.pid));
    return { plane, lab, client, server, iperfServer, ...(iperfServer6 ? { iperfServer6 } : {}), weftdPids };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

/** Waits until `what` (started as `proc`) listens on ip:port in `ns`. */
async function listening(lab: Lab, ns: string, ip: string, port: number, what: string, proc: ProcessRecord): Promise<void> {
  const address = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  await waitFor(
    async () => ((await lab.exec(ns, 'ss', ['-Hltn', `sport = :${port}`])).includes(address) ? true : undefined),
    5_000,
    () => new Error(`the ${what} did not listen on ${address} in ${ns}; see ${proc.log}`),
  );
}
