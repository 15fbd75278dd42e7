/**
 * The control block shared by the main thread and the workers: an Int32Array over its own SharedArrayBuffer.
 * Per parallel step (epoch e) the main thread writes the step's parameters into slot e&1, resets DONE, sets
 * NEXT = tag(e) (no chunk claimed), then publishes EPOCH = e. Chunks are claimed by compare-exchange on NEXT,
 * which succeeds only while NEXT still carries tag(e): a worker that wakes late cannot claim work of a newer
 * step with an older step's parameters. The caller claims chunks from the front and the workers from the back
 * (two counters in one word), so with two threads each keeps the same part of every tensor step after step
 * (its own cache's rows) and they still meet wherever the faster one gets to. The barrier is DONE === chunk
 * count, so the main thread never waits for a worker that took no chunk. Hot words sit 64 bytes apart.
 */

/** Word indices in the control Int32Array. */
export const EPOCH = 0;
/**
 * Parameter slots for even and odd epochs: function index, item extent, (unused), chunk count. Chunk c is
 * items [floor(c * extent / n), floor((c + 1) * extent / n)): sizes differ by at most one item, so 25 items in
 * 8 chunks are 3 or 4 each (fixed chunks of ceil(25 / 8) = 4 made 7 chunks, one of a single item).
 */
export const SLOT = [16, 20] as const;
export const STOP = 24;
/** Busy-wait iterations before a sleeping wait (set by the pool, read by the workers at every wait). */
export const SPIN = 25;
/** Set to 1 + the step index when a worker's chunk threw (a trap): the caller turns it into an error. */
export const FAULT = 26;
export const NEXT = 32;
export const DONE = 48;
/** Worker w's count of chunks run is at STATS + 2*w, its count of steps it took part in at STATS + 2*w + 1. */
export const STATS = 64;

/**
 * NEXT = tag << 2*SIDE_BITS | back << SIDE_BITS | front: chunks claimed from the front (the caller) and from
 * the back (the workers). front + back <= chunk count <= MAX_CHUNKS, so neither field overflows.
 */
export const SIDE_BITS = 7;
export const MAX_CHUNKS = (1 << SIDE_BITS) - 1;
/** 17 tag bits: a worker would have to sleep through 131072 steps between reading EPOCH and claiming. */
const TAG_MASK = (1 << (31 - 2 * SIDE_BITS)) - 1;
const SIDE_MASK = (1 << SIDE_BITS) - 1;

/** NEXT's value at the start of epoch `e` (non-negative: the sign bit is never used). */
export function epochTag(e: number): number {
  return (e & TAG_MASK) << (2 * SIDE_BITS);
}

/** Words needed for `workers` workers. */
export function controlWords(workers: number): number {
  return STATS + 2 * workers;
}

type KernelFn = (start: number, end: number) => void;

/**
 * Claim and run chunks of epoch `e` until none are left or a newer epoch began; returns chunks run. Used by
 * the main thread (`fromBack` false) and the workers (true) alike, so both follow the same protocol.
 */
export function runChunks(
  ctl: Int32Array,
  e: number,
  fns: readonly (KernelFn | undefined)[],
  fromBack: boolean,
): number {
  const base = SLOT[e & 1];
  const fn = fns[ctl[base]!];
  const extent = ctl[base + 1]!;
  const nChunks = ctl[base + 3]!;
  const tag = epochTag(e);
  const step = fromBack ? 1 << SIDE_BITS : 1;
  let ran = 0;
  for (;;) {
    const v = Atomics.load(ctl, NEXT);
    const low = v & ((1 << (2 * SIDE_BITS)) - 1);
    if (v - low !== tag) return ran;
    const front = low & SIDE_MASK;
    const back = low >>> SIDE_BITS;
    if (front + back >= nChunks) return ran;
    if (Atomics.compareExchange(ctl, NEXT, v, v + step) !== v) continue;
    // The tag matched at the claim, so slot e&1 still held this epoch's parameters when read above.
    const c = fromBack ? nChunks - 1 - back : front;
    try {
      fn!(Math.floor((c * extent) / nChunks), Math.floor(((c + 1) * extent) / nChunks));
    } catch {
      // Still counted as done below, so the barrier never waits for a chunk that will not finish.
      Atomics.store(ctl, FAULT, ctl[base]! + 1);
    }
    ran++;
    if (Atomics.add(ctl, DONE, 1) + 1 === nChunks) Atomics.notify(ctl, DONE);
  }
}

/**
 * A thread's busy-wait budget (polls, ~10-15 ns each) before it sleeps in Atomics.wait. Spinning wins when the
 * thread has a core to itself (waking a sleeping thread costs tens of microseconds on a VM) and loses badly when
 * it shares a core with the thread it waits for, which a loaded machine's scheduler keeps doing for seconds at a
 * time. A spinner cannot see that another thread wants its core until it has been preempted, so one that finds a
 * gap in wall time between two polls sleeps at once and halves its budget; each wait that ends while spinning
 * doubles it again, up to `max`. Measured (mobilenet_v2, 2 threads vs 1 in one process): with both threads pinned
 * to one core, 19.7 ms against 21.7 ms for a fixed spin (one thread: 18.3 ms); pinned to separate cores, the
 * same time as the fixed spin (median per-round ratio 0.99).
 */
export interface Spinner {
  budget: number;
  max: number;
}

/** Gap between two polls (about 1 us apart) that means the spinning thread was descheduled. */
export const PREEMPTED_MS = 0.05;
/** The budget after a preemption: about a microsecond. */
export const MIN_SPIN = 64;

/**
 * Wait until ctl[index] !== value and return the new value: spin (adaptively, see Spinner), then sleep;
 * `canBlock` false (a browser's main thread) only spins. At `deadline` (a performance.now() time) it returns
 * the value as it is, changed or not, so a caller waiting on threads that stalled can fail instead of hanging.
 */
export function waitForChange(
  ctl: Int32Array,
  index: number,
  value: number,
  sp: Spinner,
  canBlock: boolean,
  deadline = Infinity,
): number {
  let v = Atomics.load(ctl, index);
  if (v !== value) return v;
  let last = performance.now();
  for (let i = 0; i < sp.budget || !canBlock; i++) {
    v = Atomics.load(ctl, index);
    if (v !== value) {
      sp.budget = Math.min(sp.max, 2 * sp.budget);
      return v;
    }
    if ((i & 63) === 63) {
      const now = performance.now();
      if (now > deadline) return v;
      if (now - last > PREEMPTED_MS && canBlock) {
        sp.budget = Math.max(MIN_SPIN, sp.budget >> 1);
        break;
      }
      last = now;
    }
  }
  while (v === value) {
    if (deadline === Infinity) Atomics.wait(ctl, index, value);
    else if (Atomics.wait(ctl, index, value, Math.max(0, deadline - performance.now())) === 'timed-out') {
      return Atomics.load(ctl, index);
    }
    v = Atomics.load(ctl, index);
  }
  return v;
}

/** Messages from the pool to a worker (the first and only message is `init`). */
export interface InitMessage {
  type: 'init';
  id: number;
  control: SharedArrayBuffer;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  /** Export name per step index (null for fallback steps, which never run on workers). */
  exports: (string | null)[];
}

/** Messages from a worker to the pool. */
export type WorkerReply = { type: 'ready'; id: number } | { type: 'error'; id: number; message: string };
