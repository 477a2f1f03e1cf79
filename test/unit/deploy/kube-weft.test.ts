// deploy/kube-weft.yaml parsed document by document: the objects kube-flannel.yml deploys, with
// what a TUN-based, etcd-backed weftd needs (see reference/flannel.md 1f and design.md).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '../../..');
const text = readFileSync(join(root, 'deploy/kube-weft.yaml'), 'utf8');

// Loose views of the Kubernetes objects: the test reads fields by name and asserts their values.
type Obj = Record<string, any>;

const parsed = parseAllDocuments(text);
const docs: Obj[] = parsed.map((d) => d.toJS() as Obj);
const one = (kind: string): Obj => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
};
const ds = one('DaemonSet');
const pod: Obj = ds.spec.template.spec;
const weftd: Obj = pod.containers.find((c: Obj) => c.name === 'weftd');
const volume = (name: string): Obj => pod.volumes.find((v: Obj) => v.name === name);
/** The hostPath a container mounts at `mountPath`, with its type. */
const hostMount = (c: Obj, mountPath: string): { path: string; type: string } | undefined => {
  const m = (c.volumeMounts as Obj[]).find((x) => x.mountPath.replace(/\/$/, '') === mountPath);
  return m && volume(m.name)?.hostPath;
};
const args = (): string[] => weftd.args;
const envVar = (c: Obj, name: string): Obj => (c.env as Obj[]).find((e) => e.name === name)!;

describe('deploy/kube-weft.yaml', () => {
  it('parses as YAML, every document a namespaced-or-cluster Kubernetes object', () => {
    expect(parsed.flatMap((d) => d.errors)).toEqual([]);
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']);
    for (const d of docs) {
      expect(d.apiVersion).toMatch(/^(v1|apps\/v1|rbac\.authorization\.k8s\.io\/v1)$/);
      expect(d.metadata.name).toMatch(/^[a-z0-9-]+$/);
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(d.kind)) expect(d.metadata.namespace).toBe('kube-weft');
    }
  });

  it('has a privileged namespace, a service account and read-only access to nodes', () => {
    expect(one('Namespace').metadata).toMatchObject({ name: 'kube-weft', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } });
    expect(one('ServiceAccount').metadata.name).toBe('weft');
    expect(one('ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
    const binding = one('ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one('ClusterRole').metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'weft', namespace: 'kube-weft' }]);
    expect(pod.serviceAccountName).toBe('weft');
  });

  it('ships net-conf.json and a conflist of weft + portmap identical to deploy/10-weft.conflist', () => {
    const data = one('ConfigMap').data;
    expect(JSON.parse(data['net-conf.json'])).toEqual({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } });
    const conflist = JSON.parse(data['cni-conf.json']);
    expect(conflist.plugins.map((p: Obj) => p.type)).toEqual(['weft', 'portmap']);
    expect(conflist.plugins[1].capabilities).toEqual({ portMappings: true });
    expect(conflist.plugins[0].subnetFile).toBe('/run/weft/subnet.env');
    expect(conflist).toEqual(JSON.parse(readFileSync(join(root, 'deploy/10-weft.conflist'), 'utf8')));
  });

  it('schedules on every Linux node, before everything else, whatever the taints', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    const term = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0];
    expect(term.matchExpressions).toEqual([{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }]);
    expect(ds.spec.selector.matchLabels).toEqual({ app: 'weft' });
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
  });

  it('runs weftd unprivileged with NET_ADMIN, NET_RAW and SYS_NICE (its real-time data plane thread), the TUN device and the host paths it needs', () => {
    expect(weftd.securityContext).toEqual({ privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW', 'SYS_NICE'] } });
    expect(hostMount(weftd, '/dev/net/tun')).toEqual({ path: '/dev/net/tun', type: 'CharDevice' });
    expect(hostMount(weftd, '/run/weft')).toMatchObject({ path: '/run/weft' });
    expect(hostMount(weftd, '/run/xtables.lock')).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
    expect(weftd.resources.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    expect(weftd.resources.limits?.cpu).toBeUndefined(); // CPU throttling would stall the data plane
  });

  it('installs weft-cni and the conflist from init containers with deploy/install-cni.sh', () => {
    const [plugin, conf] = pod.initContainers as Obj[];
    expect(plugin.command).toEqual(['/opt/weft/install-cni.sh', 'plugin']);
    expect(hostMount(plugin, '/opt/cni/bin')).toMatchObject({ path: '/opt/cni/bin' });
    expect(envVar(plugin, 'CNI_BIN_DIR').value).toBe('/opt/cni/bin');
    expect(conf.command).toEqual(['/opt/weft/install-cni.sh', 'conf']);
    expect(hostMount(conf, '/etc/cni/net.d')).toMatchObject({ path: '/etc/cni/net.d' });
    expect(envVar(conf, 'CNI_CONF_DIR').value).toBe('/etc/cni/net.d');
    // CONFLIST is the ConfigMap's cni-conf.json, mounted into the init container.
    const cfgMount = (conf.volumeMounts as Obj[]).find((m) => volume(m.name).configMap);
    expect(volume(cfgMount!.name).configMap.name).toBe(one('ConfigMap').metadata.name);
    expect(envVar(conf, 'CONFLIST').value).toBe(`${cfgMount!.mountPath.replace(/\/$/, '')}/cni-conf.json`);
    // The image puts the script where the init containers run it.
    expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toMatch(/^COPY --from=build \/src\/deploy\/install-cni\.sh \/opt\/weft\/install-cni\.sh$/m);
    const images = new Set([...pod.initContainers, ...pod.containers].map((c: Obj) => c.image));
    expect(images.size).toBe(1);
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the health port', () => {
    expect(weftd.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8471 });
    expect(weftd.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8471 });
    expect(args()).toContain('--healthz-port=8471');
    expect(args()).toContain('--healthz-ip=0.0.0.0'); // probes come to the node address
  });

  it('takes etcd endpoints and TLS files from the Secret weft-etcd-tls', () => {
    expect(envVar(weftd, 'WEFTD_ETCD_ENDPOINTS').valueFrom.secretKeyRef).toEqual({ name: 'weft-etcd-tls', key: 'endpoints' });
    const tls = (weftd.volumeMounts as Obj[]).find((m) => volume(m.name).secret);
    expect(tls).toMatchObject({ mountPath: '/etc/weft/etcd', readOnly: true });
    const secret = volume(tls!.name).secret;
    expect(secret.secretName).toBe('weft-etcd-tls');
    expect(secret.items.map((i: Obj) => i.path)).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(secret.defaultMode).toBe(0o400);
    expect(args()).toEqual(
      expect.arrayContaining([
        '--etcd-cafile=/etc/weft/etcd/ca.crt',
        '--etcd-certfile=/etc/weft/etcd/tls.crt',
        '--etcd-keyfile=/etc/weft/etcd/tls.key',
      ]),
    );
  });

  it('names the node from the downward API and masquerades pod traffic leaving the cluster', () => {
    expect(envVar(weftd, 'NODE_NAME').valueFrom.fieldRef).toEqual({ fieldPath: 'spec.nodeName' });
    expect(args()).toContain('--node-name=$(NODE_NAME)');
    expect(args()).toContain('--ip-masq');
    expect(args()).toContain('--subnet-file=/run/weft/subnet.env');
  });

  it('uses only weftd flags that exist', async () => {
    const { FLAGS } = await import('../../../daemon/config/flags.js');
    const known = new Set(FLAGS.map((f) => f.name));
    const unknown = args().map((a) => a.replace(/^--/, '').split('=')[0]).filter((n) => !known.has(n));
    expect(unknown).toEqual([]);
  });

  it('explains how to put <prefix>/config into etcd and create the Secret', () => {
    expect(text).toContain("put /coreos.com/network/config '{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}'");
    expect(text).toContain('kubectl -n kube-weft create secret generic weft-etcd-tls');
  });
});
