/**
 * Runs kernel steps across threads over one shared WebAssembly.Memory. The main thread and N-1 workers
 * (worker_threads in Node, module Web Workers in browsers) each instantiate the same module bytes over the
 * same memory. Per step, work items [0, parallelExtent) are claimed in chunks from an atomic counter (so a
 * descheduled thread only delays the chunk it holds), then a barrier on the count of chunks done: an adaptive
 * spin (control.ts), then Atomics.wait (spin only on a browser main thread, where waiting is forbidden). Steps
 * whose cost is below `minParallelCost` stay on the calling thread: waking a worker costs more than they take.
 * Fallback steps never reach the pool.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { CompiledModel, CompiledStep } from '../compiled-model.js';
import type { ParallelRunner } from '../executor.js';
import { detectFeatures } from '../features.js';
import {
  DONE,
  EPOCH,
  FAULT,
  MAX_CHUNKS,
  NEXT,
  SLOT,
  SPIN,
  STATS,
  STOP,
  controlWords,
  epochTag,
  runChunks,
  waitForChange,
  type InitMessage,
  type Spinner,
  type WorkerReply,
} from './control.js';
import { withSharedMemoryImport } from './shared-memory-import.js';

/** How long a worker may take to load and instantiate the module before the session fails. */
export const START_TIMEOUT_MS = 30_000;

/** Most threads the default picks (more rarely pays off for batch-1 CNNs, and phones throttle). */
export const MAX_DEFAULT_THREADS = 4;

/** The headers a page needs for SharedArrayBuffer (cross-origin isolation). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

/** Why threads cannot run here (undefined when they can). */
export function threadsUnavailableReason(): string | undefined {
  if (detectFeatures().threads) return undefined;
  const g = globalThis as { crossOriginIsolated?: boolean; document?: unknown; WorkerGlobalScope?: unknown };
  const inBrowser = g.document !== undefined || g.WorkerGlobalScope !== undefined;
  if (inBrowser && g.crossOriginIsolated !== true) {
    return (
      'SharedArrayBuffer is unavailable because the page is not cross-origin isolated; serve it with the headers ' +
      Object.entries(ISOLATION_HEADERS)
        .map(([k, v]) => `${k}: ${v}`)
        .join(' and ')
    );
  }
  return 'this engine cannot create a shared WebAssembly.Memory (SharedArrayBuffer)';
}

let warned = false;
/** Where the single-thread notice goes (console.warn by default; pages and tests may redirect it). */
export let onSingleThreadNotice: (message: string) => void = (m) => console.warn(m);
/** Redirect the single-thread notice (returns the previous sink). */
export function setSingleThreadNotice(sink: (message: string) => void): (message: string) => void {
  const prev = onSingleThreadNotice;
  onSingleThreadNotice = sink;
  return prev;
}

/** Logical cores, from the browser or Node (1 when unknown). */
export async function coreCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node) {
    const os = await import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return 1;
}

/**
 * The thread count to use for a request (`'auto'` or undefined: min(cores, 4)). Without shared memory it is 1,
 * and the first such request says so once (naming the missing COOP/COEP headers in a browser).
 */
export async function resolveThreads(requested: number | 'auto' | undefined): Promise<number> {
  if (
    requested !== undefined &&
    requested !== 'auto' &&
    (!Number.isInteger(requested) || requested < 1 || requested > 256)
  ) {
    throw new EdgecnnError(
      `threads must be a whole number from 1 to 256 or 'auto', got ${String(requested)}`,
      'bad-argument',
    );
  }
  const want =
    requested === undefined || requested === 'auto' ? Math.min(await coreCount(), MAX_DEFAULT_THREADS) : requested;
  if (want <= 1) return 1;
  const reason = threadsUnavailableReason();
  if (reason === undefined) return want;
  if (!warned) {
    warned = true;
    onSingleThreadNotice(`edgecnn: running single-threaded: ${reason}.`);
  }
  return 1;
}

export interface ThreadPoolOptions {
  /** Total threads including the calling one (>= 2 to be useful). */
  threads: number;
  /** The worker script (default: worker-entry.js beside this module, as built in dist/ and dist/web/). */
  workerUrl?: URL | string;
  /** Steps costing less than this (MACs, or bytes moved / 4 for memory-bound steps) run on one thread. */
  minParallelCost?: number;
  /** Fewest chunks per thread per step: more balances a noisy machine better, fewer costs fewer atomics. */
  chunksPerThread?: number;
  /**
   * Cost (as `minParallelCost`) per chunk that big steps are cut to, beyond `chunksPerThread` chunks per thread
   * (0: never). Threads finish a step about one chunk apart, and a step with few items split in few chunks gets
   * chunks of unequal item counts (28 items in 8 chunks: 13 against 15 for two threads).
   */
  chunkCost?: number;
  /** Busy-wait iterations before sleeping, for workers and the barrier. */
  spin?: number;
  /** Whether the calling thread also runs chunks (tests turn it off to prove the workers do the work). */
  callerRuns?: boolean;
  /**
   * Longest a split step may wait for its chunks (ms). A worker that exits or stalls inside a chunk would
   * otherwise block the caller forever (in Node its Atomics.wait also blocks the event loop that would report
   * the exit); past this the step fails with a named error and the pool closes.
   */
  barrierTimeoutMs?: number;
}

/** What ran where, for tests and the demo page. */
export interface ThreadPoolStats {
  threads: number;
  /** Steps split across threads, and steps kept on the calling thread. */
  parallelSteps: number;
  serialSteps: number;
  /** Per worker: chunks run, and parallel steps joined. */
  workerSlices: number[];
  workerEpochs: number[];
}

export interface ThreadPool extends ParallelRunner {
  readonly threads: number;
  stats(): ThreadPoolStats;
  /** Stop the workers; the pool (and an executor using it) must not run afterwards. */
  close(): Promise<void>;
}

/**
 * Default cost threshold. First measured on the 2-vCPU machine (ppocr-cls, 200 interleaved runs): a split step
 * costs ~1.3 us when both threads hold a CPU, but ~0.2 ms at the median under load, when the worker sleeps or is
 * preempted inside its chunk; that set 1 M MACs (~50 us on one core). With adaptive spins, two-ended claiming
 * and late depthwise layers split by channel groups, 300 k measured 3-4% faster on mobilenet_v2 (per-round
 * median 2-thread time ratio 0.956 and 0.976 against 1 M, threads on separate cores; 100 k: no better) and no
 * slower with both threads on one core; its late depthwise layers (0.4-0.7 M MACs, ~30-45 us) now split.
 */
export const DEFAULT_MIN_PARALLEL_COST = 300_000;

/** Tuning defaults for pools created without explicit values (sessions); benchmarks change them. */
export const poolDefaults: Required<Omit<ThreadPoolOptions, 'threads' | 'workerUrl'>> = {
  minParallelCost: DEFAULT_MIN_PARALLEL_COST,
  chunksPerThread: 4,
  chunkCost: 1_000_000,
  spin: 20_000,
  callerRuns: true,
  barrierTimeoutMs: 120_000,
};

function stepCost(s: CompiledStep): number {
  return Math.max(s.macs, s.bytesMoved / 4);
}

interface WorkerHandle {
  post(m: InitMessage): void;
  onReply(f: (r: WorkerReply) => void, fail: (e: unknown) => void): void;
  terminate(): Promise<unknown> | void;
  /** Let the process exit while this worker waits (Node; a no-op in browsers). */
  unref(): void;
}

async function spawnWorker(url: URL | string): Promise<WorkerHandle> {
  const g = globalThis as {
    Worker?: new (u: URL | string, o: { type: 'module' }) => BrowserWorker;
    document?: unknown;
    WorkerGlobalScope?: unknown;
  };
  const inBrowser = g.document !== undefined || g.WorkerGlobalScope !== undefined;
  if (inBrowser && g.Worker) {
    const w = new g.Worker(url, { type: 'module' });
    return {
      post: (m) => w.postMessage(m),
      onReply: (f, fail) => {
        w.addEventListener('message', (ev) => f(ev.data as WorkerReply));
        w.addEventListener('error', (ev) =>
          fail(new Error((ev as { message?: string }).message ?? 'worker failed to load')),
        );
      },
      terminate: () => w.terminate(),
      unref: () => {},
    };
  }
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(typeof url === 'string' ? new URL(url) : url);
  return {
    post: (m) => w.postMessage(m),
    onReply: (f, fail) => {
      w.on('message', f);
      w.on('error', fail);
    },
    terminate: () => w.terminate(),
    unref: () => w.unref(),
  };
}

interface BrowserWorker {
  postMessage(m: unknown): void;
  addEventListener(t: 'message' | 'error', f: (ev: { data?: unknown }) => void): void;
  terminate(): void;
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create a pool for `compiled`: its shared memory and shared-import module bytes go to `instantiate`, which
 * calls `start(module)` once the main instance exists; then workers instantiate the same module.
 */
export function createThreadPool(compiled: CompiledModel, opts: ThreadPoolOptions): ThreadPool {
  const threads = opts.threads;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new EdgecnnError(`threads must be a whole number >= 1, got ${threads}`, 'bad-argument');
  }
  const reason = threadsUnavailableReason();
  if (reason !== undefined && threads > 1)
    throw new EdgecnnError(`cannot run on ${threads} threads: ${reason}`, 'bad-argument');
  const pages = Math.ceil(compiled.memoryBytes / 65536);
  const memory =
    threads > 1
      ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
      : new WebAssembly.Memory({ initial: pages, maximum: pages });
  const wasm = threads > 1 ? withSharedMemoryImport(compiled.wasm) : compiled.wasm;
  const nWorkers = threads - 1;
  const ctl = new Int32Array(new SharedArrayBuffer(4 * controlWords(Math.max(nWorkers, 0))));
  const spin = opts.spin ?? poolDefaults.spin;
  ctl[SPIN] = spin;
  const barrier: Spinner = { budget: spin, max: spin };
  const minCost = opts.minParallelCost ?? poolDefaults.minParallelCost;
  const chunksPerThread = opts.chunksPerThread ?? poolDefaults.chunksPerThread;
  const chunkCost = opts.chunkCost ?? poolDefaults.chunkCost;
  const blocking = threads > 1 && canBlock();
  const callerRuns = opts.callerRuns ?? poolDefaults.callerRuns;
  const barrierTimeoutMs = opts.barrierTimeoutMs ?? poolDefaults.barrierTimeoutMs;
  const workers: WorkerHandle[] = [];
  let parallelSteps = 0;
  let serialSteps = 0;
  let closed = false;

  const steps = compiled.steps;
  const localFns: (((start: number, end: number) => void) | undefined)[] = steps.map(() => undefined);
  const parallel = steps.map((s) => s.kind === 'kernel' && s.parallelExtent >= 2 && stepCost(s) >= minCost);
  // A step with no more items than threads * chunksPerThread gets one chunk per thread: its items are coarse,
  // and adjacent items may share work inside one call (a Winograd range transforms its input once: resnet18's
  // 14x14 and 7x7 layers have 8 items, and one chunk per item made every chunk transform it again).
  const chunks = steps.map((s) =>
    s.kind === 'kernel' && s.parallelExtent <= threads * chunksPerThread
      ? threads
      : Math.min(
          MAX_CHUNKS,
          Math.max(threads * chunksPerThread, chunkCost > 0 ? Math.floor(stepCost(s) / chunkCost) : 0),
        ),
  );

  return {
    threads,
    memory,
    wasm,
    async start(module) {
      if (nWorkers === 0) return;
      const url = opts.workerUrl ?? new URL('./worker-entry.js', import.meta.url);
      const exports = steps.map((s) => (s.kind === 'kernel' ? s.exportName : null));
      const handles = await Promise.all(Array.from({ length: nWorkers }, () => spawnWorker(url)));
      workers.push(...handles);
      try {
        await Promise.all(
          handles.map(
            (w, id) =>
              new Promise<void>((resolve, reject) => {
                // A worker script that never runs (blocked, or a browser that drops the error event) must
                // fail the session, not leave it waiting.
                const timer = setTimeout(
                  () =>
                    reject(
                      new EdgecnnError(
                        `worker ${id} did not start within ${START_TIMEOUT_MS} ms (${String(url)})`,
                        'internal',
                      ),
                    ),
                  START_TIMEOUT_MS,
                );
                w.onReply(
                  (r) => {
                    clearTimeout(timer);
                    if (r.type === 'ready') resolve();
                    else reject(new EdgecnnError(`worker ${id} failed: ${r.message}`, 'internal'));
                  },
                  (e) => {
                    clearTimeout(timer);
                    reject(new EdgecnnError(`worker ${id} failed to start: ${String(e)}`, 'internal'));
                  },
                );
                w.post({ type: 'init', id, control: ctl.buffer as SharedArrayBuffer, memory, module, exports });
              }),
          ),
        );
      } catch (e) {
        await Promise.all(handles.map((w) => w.terminate()));
        throw e;
      }
      // Only now: a referenced worker blocked in Atomics.wait would keep the process alive when a session is
      // never closed, and unref() must follow the listeners (adding a 'message' listener re-references it).
      for (const w of handles) w.unref();
    },
    wake() {
      // An epoch with no chunks: workers return to spinning at once (runChunks claims nothing), so the first
      // split step of the run does not pay a sleeping worker's wake-up (~0.1 ms measured on resnet18's first conv).
      if (closed || nWorkers === 0) return;
      const e = ctl[EPOCH]! + 1;
      ctl[SLOT[e & 1] + 3] = 0;
      Atomics.store(ctl, NEXT, epochTag(e));
      Atomics.store(ctl, EPOCH, e);
      Atomics.notify(ctl, EPOCH);
    },
    runKernel(index, extent, local) {
      if (closed) throw new EdgecnnError('the thread pool was closed', 'bad-argument');
      if (nWorkers === 0 || !parallel[index]) {
        serialSteps++;
        local(0, extent);
        return;
      }
      parallelSteps++;
      const nChunks = Math.min(extent, chunks[index]!);
      const e = ctl[EPOCH]! + 1;
      const base = SLOT[e & 1];
      ctl[base] = index;
      ctl[base + 1] = extent;
      ctl[base + 2] = 0;
      ctl[base + 3] = nChunks;
      localFns[index] = local;
      Atomics.store(ctl, DONE, 0);
      Atomics.store(ctl, NEXT, epochTag(e));
      Atomics.store(ctl, EPOCH, e);
      Atomics.notify(ctl, EPOCH);
      if (callerRuns) runChunks(ctl, e, localFns, false);
      let d = Atomics.load(ctl, DONE);
      const deadline = performance.now() + barrierTimeoutMs;
      while (d !== nChunks) {
        d = waitForChange(ctl, DONE, d, barrier, blocking, deadline);
        if (d !== nChunks && performance.now() >= deadline) {
          // Its chunks may still finish later and count into a newer step's barrier: this pool is unusable.
          closed = true;
          Atomics.store(ctl, STOP, 1);
          Atomics.add(ctl, EPOCH, 1);
          Atomics.notify(ctl, EPOCH);
          for (const w of workers) void w.terminate();
          const st = steps[index]!;
          throw new EdgecnnError(
            `kernel step ${index} (${st.kernelId}, node '${st.nodeName}') did not finish on ${threads} threads ` +
              `within ${barrierTimeoutMs} ms (${Atomics.load(ctl, DONE)} of ${nChunks} chunks done): a worker ` +
              `stalled or exited; the thread pool is closed`,
            'internal',
          );
        }
      }
      const fault = Atomics.exchange(ctl, FAULT, 0);
      if (fault !== 0) {
        const st = steps[fault - 1]!;
        throw new EdgecnnError(
          `kernel step ${fault - 1} (${st.kernelId}, node '${st.nodeName}') trapped on a thread`,
          'internal',
        );
      }
    },
    stats() {
      return {
        threads,
        parallelSteps,
        serialSteps,
        workerSlices: Array.from({ length: nWorkers }, (_, w) => ctl[STATS + 2 * w]!),
        workerEpochs: Array.from({ length: nWorkers }, (_, w) => ctl[STATS + 2 * w + 1]!),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctl, STOP, 1);
      Atomics.add(ctl, EPOCH, 1);
      Atomics.notify(ctl, EPOCH);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
