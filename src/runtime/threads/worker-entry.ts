/**
 * A pool worker (worker_threads in Node, a module Web Worker in browsers): instantiates the model's module
 * over the shared memory, then loops: wait for a new epoch (an adaptive spin of at most SPIN polls, then
 * Atomics.wait), then claim and run chunks of that epoch's step from the back of its range (control.ts) until
 * none are left.
 * It never touches JS-side values or fallback steps, and never copies weights: the main thread owns both.
 */
import {
  EPOCH,
  SPIN,
  STATS,
  STOP,
  runChunks,
  waitForChange,
  type InitMessage,
  type Spinner,
  type WorkerReply,
} from './control.js';

type KernelFn = (start: number, end: number) => void;

function serve(msg: InitMessage, reply: (r: WorkerReply) => void): void {
  let fns: (KernelFn | undefined)[];
  try {
    const instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.exports.map((name) => (name === null ? undefined : (instance.exports[name] as KernelFn)));
  } catch (e) {
    reply({ type: 'error', id: msg.id, message: String(e) });
    return;
  }
  reply({ type: 'ready', id: msg.id });
  loop(new Int32Array(msg.control), fns, msg.id);
}

function loop(ctl: Int32Array, fns: (KernelFn | undefined)[], id: number): void {
  let seen = Atomics.load(ctl, EPOCH);
  const statsAt = STATS + 2 * id;
  const sp: Spinner = { budget: Atomics.load(ctl, SPIN), max: 0 };
  for (;;) {
    sp.max = Atomics.load(ctl, SPIN);
    sp.budget = Math.min(sp.budget, sp.max);
    const e = waitForChange(ctl, EPOCH, seen, sp, true);
    seen = e;
    if (Atomics.load(ctl, STOP) !== 0) return;
    const ran = runChunks(ctl, e, fns, true);
    if (ran > 0) {
      ctl[statsAt] = ctl[statsAt]! + ran;
      ctl[statsAt + 1] = ctl[statsAt + 1]! + 1;
    }
  }
}

// Browser worker: `self` is a WorkerGlobalScope; Node worker: the parentPort of node:worker_threads.
const g = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  postMessage?: (m: unknown) => void;
  addEventListener?: (t: 'message', f: (ev: { data: InitMessage }) => void, o?: { once: boolean }) => void;
};
if (g.WorkerGlobalScope !== undefined && g.addEventListener && g.postMessage) {
  const post = g.postMessage.bind(globalThis);
  g.addEventListener('message', (ev) => serve(ev.data, post), { once: true });
} else {
  const { parentPort } = await import('node:worker_threads');
  parentPort?.once('message', (m: InitMessage) => serve(m, (r) => parentPort.postMessage(r)));
}
