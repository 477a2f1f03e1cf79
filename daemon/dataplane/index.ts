// Public surface of the data plane, for daemon/main.ts and daemon/control/peers.ts. Nothing here
// imports control code, gRPC or etcd.
export { Dataplane, type DataplaneOptions, type DataplaneStats, type PeerStats } from './dataplane.js';
export { ThreadedDataplane } from './threaded-dataplane.js';
export { disableIpv6, ipv6Enabled, ipv6NotQuiet, quietIpv6, tunLink, tunLink6Only, type TunLink } from './tun-link.js';
export { ipv6OnlyLayout, PeerEncoder, RouteTable, type Ipv6OnlyLayout, type PeerSpec, type PeerWire, type RejectedPeer, type RouteDelta, type RouteTableOptions } from './route-table.js';
