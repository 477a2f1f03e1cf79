// A network config changed in etcd while weftd runs: which fields changed and what the operator
// must do (daemon/control/lease/network-config-watch.ts).
import { describe, expect, it } from 'vitest';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import { configChangeAdvice, diffNetworkConfig } from '../../../../daemon/control/lease/network-config-watch.js';
import { parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';

const running = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
const subnet = (c: string) => parseSubnet(c) ?? undefined;

describe('network config change', () => {
  it('lists changed fields after defaults, so a rewrite with the same meaning is no change', () => {
    expect(diffNetworkConfig(running, parseNetworkConfig('{"network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan","VNI":1,"Port":8472}}'))).toEqual([]);
    expect(diffNetworkConfig(running, parseNetworkConfig('{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan","VNI":2,"MTU":1500}}'))).toEqual([
      { field: 'Network', from: '10.244.0.0/16', to: '10.245.0.0/16' },
      { field: 'SubnetMin', from: '10.244.1.0', to: '10.245.1.0' },
      { field: 'SubnetMax', from: '10.244.255.0', to: '10.245.255.0' },
      { field: 'Backend.VNI', from: '1', to: '2' },
      { field: 'Backend.MTU', from: 'unset', to: '1500' },
    ]);
  });

  it('tells to restart every node, together when VNI or Port changed, and to re-create pods whose subnet no longer fits', () => {
    const moved = parseNetworkConfig('{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan","Port":4789}}');
    expect(configChangeAdvice(running, moved, subnet('10.244.7.0/24'))).toBe(
      'weftd keeps running on the config it started with; to apply the new one, restart weftd on every node at the same time (nodes on different Backend.VNI or Backend.Port cannot reach each other); ' +
        "this node's subnet 10.244.7.0/24 does not fit the new config, so after the restart it gets another subnet and the pods on this node (addresses in 10.244.7.0/24) must be re-created",
    );
    const wider = parseNetworkConfig('{"Network":"10.244.0.0/15","SubnetLen":24,"Backend":{"Type":"vxlan","MTU":9000}}');
    expect(configChangeAdvice(running, wider, subnet('10.244.7.0/24'))).toBe(
      'weftd keeps running on the config it started with; to apply the new one, restart weftd on every node; pods keep the old MTU until they are re-created',
    );
  });
});
