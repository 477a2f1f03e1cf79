// Public surface of the gossip module (what daemon/main.ts and control/peers.ts use).
export { startGossip, type GossipNode, type GossipNodeOptions, type GossipStatus, type MemberStatus } from './node.js';
export { mergeRoutes, type LeasePeer, type GossipPeer, type RoutePeer, type MergeResult, type Refusal } from './merge.js';
export { RefusalReporter } from './refusal-reporter.js';
export { encodeKeys, loadOrCreateClusterKey, readKeyFile, gossipKeyPath } from './cluster-key.js';
export { parsePeers, seedsFromLeases, DEFAULT_GOSSIP_PORT } from './seeds.js';
export { gossipCounters, type GossipCounters } from './metrics.js';
export { DEFAULT_SWIM_CONFIG, type SwimConfig } from './swim-config.js';
export type { MemberChange } from './membership.js';
export { memberAddress, type MemberInfo, type MemberRecord, type MemberState, type MemberView } from './types.js';
export { gossipAnswers, type HolderProbeOptions } from './holder-probe.js';
