// The simulator's future: a binary min-heap of events ordered by (time, insertion order), so
// events due at the same instant run in the order they were scheduled. Cancelled events stay in
// the heap and are skipped when popped (cancel is O(1); the heap never searches).

/** What an event does when it runs; payload fields are read by the dispatcher, not closures. */
export const EventKind = {
  /** A member's timer: `fn` runs. */
  Timer: 0,
  /** A request arrives at member `to`. */
  Request: 1,
  /** A reply arrives back at member `from`. */
  Reply: 2,
  /** A scenario step (crash, heal …): `fn` runs. */
  Control: 3,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

export class SimEvent {
  cancelled = false;
  /** Request and Reply: the message and how to answer the caller. */
  msg: unknown = undefined;
  resolve: ((v: unknown) => void) | undefined = undefined;
  reject: ((e: unknown) => void) | undefined = undefined;
  /** Request: the message kind; Reply: true when the callee refused (the caller's promise rejects). */
  kind = '';
  refused = false;
  /** Request: already delayed once at a slow callee. */
  delayed = false;

  constructor(
    public at: number,
    public seq: number,
    public type: EventKind,
    public from: number,
    public to: number,
    public fn: (() => void) | undefined,
  ) {}

  /** TimerHandle for the membership code. */
  cancel(): void {
    this.cancelled = true;
  }
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, type: EventKind, from: number, to: number, fn?: () => void): SimEvent {
    const e = new SimEvent(at, this.seq++, type, from, to, fn);
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
    return e;
  }

  /** Time of the earliest event (cancelled ones included), or Infinity. */
  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0].at : Infinity;
  }

  /** Removes and returns the earliest event (possibly cancelled), or undefined. */
  pop(): SimEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r], h[l]) ? r : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
