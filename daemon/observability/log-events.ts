// The stable names of the log records an operator's tooling (or a test) keys on. A record listed
// here carries `event: <name>`; its message may be reworded, its event name may not (README,
// "Log events"). Records not listed carry no event field.
export const LogEvent = {
  /** weftd started (fields: version, node). */
  starting: 'starting',
  /** etcd did not answer within the grace period; the node starts from its state cache (field: savedAt). */
  stateCacheStart: 'state_cache_start',
  /** The node's gossip endpoint listens (field: port). */
  gossipListening: 'gossip_listening',
  /**
   * A member stopped answering gossip probes over UDP (its first unanswered check; then it is probed
   * over gRPC), or answers them again (fields: address, udp).
   */
  gossipUdp: 'gossip_udp',
  /** Gossip changed a member's state (fields: member, from, to, incarnation). */
  memberChanged: 'member_changed',
  /** The lease re-acquired after a loss is another subnet (fields: from, to). */
  subnetChanged: 'subnet_changed',
  /** The overlay restarts on the node's new subnet (fields: from, to). */
  overlayMoved: 'overlay_moved',
  /** The TUN is still held by another process or a closing overlay; weftd retries (field: waitMs). */
  tunBusy: 'tun_busy',
  /** The node holds its lease, wrote the subnet file and has its TUN up (fields: subnet, startedFrom). */
  ready: 'ready',
  /** etcd stopped answering (one record per outage). */
  etcdUnreachable: 'etcd_unreachable',
  /** etcd answered for the first time. */
  etcdReachable: 'etcd_reachable',
  /** etcd answers again after an outage (field: downMs). */
  etcdReachableAgain: 'etcd_reachable_again',
  /** A subnet lease was acquired (fields: subnet, how). */
  leaseAcquired: 'lease_acquired',
  /** Another node created the subnet this one tried to take first; it lists again (field: attempt). */
  leaseRaceLost: 'lease_race_lost',
  /** The held lease was renewed (field: subnet). */
  leaseRenewed: 'lease_renewed',
  /** The held lease was lost and is being re-acquired (fields: subnet, reason). */
  leaseLost: 'lease_lost',
  /** `<prefix>/config` does not exist yet; weftd waits (one record until it changes). */
  networkConfigMissing: 'network_config_missing',
  /** `<prefix>/config` is invalid, at start (field: code) or changed while running. */
  networkConfigInvalid: 'network_config_invalid',
  /** `<prefix>/config` cannot be read for another reason than etcd being away (e.g. authentication). */
  networkConfigUnreadable: 'network_config_unreadable',
  /** `<prefix>/config` changed while running (field: changes). */
  networkConfigChanged: 'network_config_changed',
  /** `<prefix>/config` was deleted while running. */
  networkConfigDeleted: 'network_config_deleted',
  /** `<prefix>/config` matches the running config again. */
  networkConfigMatches: 'network_config_matches',
  /** The acquired subnet is not the previous run's (fields: oldSubnet, newSubnet). */
  subnetMoved: 'subnet_moved',
  /** Another live weftd claims this node's name or public IP (fields: kind, self, other; once per conflict). */
  identityConflict: 'identity_conflict',
  /** A peer's route was removed (fields: subnet, reason: lease_gone, left or dead). */
  routeWithdrawn: 'route_withdrawn',
  /** A lease in etcd is not routed (fields: key, reason: what is wrong with it; once per key and revision). */
  leaseIgnored: 'lease_ignored',
  /** etcd canceled a watch whose revision was compacted; the watcher lists the prefix again (fields: target, revision). */
  watchRelisted: 'watch_relisted',
  /** A periodic state check restored drifted state (field: subsystem is tun or ip_masq; fix). */
  reasserted: 'reasserted',
} as const;

export type LogEventName = (typeof LogEvent)[keyof typeof LogEvent];
