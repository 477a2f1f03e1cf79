// The clock moved to daemon/clock.ts (shared with the lease keeper); gossip keeps its import path.
export { jitter, realClock, within, type Clock, type TimerHandle } from '../../clock.js';
