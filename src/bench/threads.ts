/**
 * Thread-scaling benchmark: `node dist/bench/threads.js [--models resnet18,mobilenet_v2] [--threads 1,2]
 * [--rounds 30] [--chunks 4] [--chunk-cost 1000000] [--min-cost 100000] [--spin 20000] [--headroom] [--pin]`.
 * One session per thread count over the same compiled model; rounds interleave the thread counts (t1, t2, t1,
 * t2, ...) so machine noise hits all of them alike. Prints per thread count p10/median/p90 and the distribution of
 * per-round speedups over one thread, since on a shared machine one run means little. Models come from
 * ../shared/models (relative to the working directory).
 * `--pin` (Linux, needs `taskset`) pins the main thread to CPU 0 and every other thread of the process to the
 * other CPUs once the sessions exist: on a loaded machine the scheduler may keep a worker on its caller's core
 * for seconds (two threads then run slower than one), which says nothing about the runtime; pinned runs show
 * what the threads give when they do get separate cores.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus as osCpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTensor } from '../ir/tensor.js';
import { createSession, type Session } from '../runtime/session.js';
import { poolDefaults } from '../runtime/threads/thread-pool.js';
import { quantile } from './stats.js';

/** One model's result: samples per thread count (ms), and per-round speedups t1/tN. */
export interface ScalingResult {
  model: string;
  threads: number[];
  samplesMs: Record<number, number[]>;
  speedups: Record<number, number[]>;
  /** Per round, the parallel headroom measured just before it (with --headroom). */
  headroom: number[];
  stats: Record<number, unknown>;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

async function benchModel(
  dir: string,
  model: string,
  threadCounts: number[],
  rounds: number,
  poolOpts: { chunksPerThread?: number; chunkCost?: number; minParallelCost?: number; spin?: number },
  probe: boolean,
  pin: boolean,
): Promise<ScalingResult> {
  const bytes = new Uint8Array(readFileSync(resolve(dir, `${model}.onnx`)));
  const raw = readFileSync(resolve(dir, `${model}.input.f32`));
  const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const sessions: Session[] = [];
  Object.assign(poolDefaults, poolOpts);
  for (const t of threadCounts) sessions.push(await createSession(bytes, { threads: t }));
  if (pin) pinThreads();
  const input = { [sessions[0]!.inputNames[0]!]: makeTensor('float32', [1, 3, 224, 224], x) };
  for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(input); // warm-up (tier-up, page faults)
  const samplesMs: Record<number, number[]> = {};
  for (const t of threadCounts) samplesMs[t] = [];
  const headroom: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Probe threads would inherit the caller's pinned CPU: no per-round probe when pinned.
    if (probe && !pin) headroom.push(await parallelHeadroom(2e7));
    // Alternate the order too, so neither count always runs right after the other.
    const order = r % 2 === 0 ? sessions.map((_, i) => i) : sessions.map((_, i) => sessions.length - 1 - i);
    for (const i of order) {
      const t0 = performance.now();
      await sessions[i]!.run(input);
      samplesMs[threadCounts[i]!]!.push(performance.now() - t0);
    }
  }
  const speedups: Record<number, number[]> = {};
  const base = samplesMs[threadCounts[0]!]!;
  for (const t of threadCounts) speedups[t] = samplesMs[t]!.map((v, i) => base[i]! / v);
  const stats: Record<number, unknown> = {};
  sessions.forEach((s, i) => (stats[threadCounts[i]!] = s.threadStats?.()));
  for (const s of sessions) await s.close();
  if (pin) pinThreads(true);
  return { model, threads: threadCounts, samplesMs, speedups, headroom, stats };
}

/**
 * Pin the main thread to CPU 0 and the process's other threads round-robin to CPUs 1..n-1 (see --pin), or with
 * `undo` let every thread run anywhere again.
 */
function pinThreads(undo = false): void {
  // os.cpus(), not availableParallelism(): the latter is this thread's affinity, a single CPU once pinned.
  const cpus = osCpus().length;
  if (cpus < 2) return;
  let k = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const cpu = undo ? `0-${cpus - 1}` : String(tid === String(process.pid) ? 0 : 1 + (k++ % (cpus - 1)));
    try {
      execFileSync('taskset', ['-pc', cpu, tid], { stdio: 'ignore' });
    } catch (e) {
      // A thread that ended meanwhile is fine; no taskset at all means no pinning.
      if ((e as { code?: string }).code === 'ENOENT') {
        console.log('--pin: taskset is not installed; running unpinned');
        return;
      }
    }
  }
}

/**
 * How much parallel CPU this process can get right now: a fixed scalar loop on 1 worker, then on 2 at once;
 * returns 2 * t(1) / t(2 at once). 2.0 on two idle cores; ~1.0 when other load leaves room for one thread.
 * Any thread-scaling figure from the same minute is bounded by this.
 */
export async function parallelHeadroom(iterations = 5e7): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const code =
    "const { parentPort } = require('node:worker_threads'); parentPort.once('message', () => {" +
    ` let s = 0; for (let i = 0; i < ${iterations}; i++) s = s * 1.0000001 + 1e-9; parentPort.postMessage(s); });`;
  const timed = async (n: number): Promise<number> => {
    const ws = Array.from({ length: n }, () => new Worker(code, { eval: true }));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await Promise.all(ws.map((w) => new Promise((r) => (w.once('message', r), w.postMessage(0)))));
    const dt = performance.now() - t0;
    await Promise.all(ws.map((w) => w.terminate()));
    return dt;
  };
  return (2 * (await timed(1))) / (await timed(2));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'resnet18,mobilenet_v2' },
      threads: { type: 'string', default: '1,2' },
      rounds: { type: 'string', default: '30' },
      chunks: { type: 'string' },
      'chunk-cost': { type: 'string' },
      'min-cost': { type: 'string' },
      spin: { type: 'string' },
      json: { type: 'boolean', default: false },
      headroom: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
    },
  });
  const dir = resolve(process.cwd(), '../shared/models');
  if (!existsSync(dir)) {
    console.log(`skipped: ${dir} is absent (the shared models live in ../shared/models)`);
    return;
  }
  const threadCounts = values.threads!.split(',').map(Number);
  const poolOpts = {
    ...(values.chunks ? { chunksPerThread: Number(values.chunks) } : {}),
    ...(values['chunk-cost'] ? { chunkCost: Number(values['chunk-cost']) } : {}),
    ...(values['min-cost'] ? { minParallelCost: Number(values['min-cost']) } : {}),
    ...(values.spin ? { spin: Number(values.spin) } : {}),
  };
  const results: ScalingResult[] = [];
  const before = await parallelHeadroom();
  console.log('| model | threads | p10 ms | median ms | p90 ms | speedup p10 | speedup median | speedup p90 |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const m of values.models!.split(',')) {
    const r = await benchModel(dir, m, threadCounts, Number(values.rounds), poolOpts, values.headroom!, values.pin!);
    results.push(r);
    for (const t of threadCounts) {
      const s = r.samplesMs[t]!;
      const sp = r.speedups[t]!;
      console.log(
        `| ${m} | ${t} | ${fmt(quantile(s, 0.1))} | ${fmt(quantile(s, 0.5))} | ${fmt(quantile(s, 0.9))} | ` +
          `${quantile(sp, 0.1).toFixed(2)} | ${quantile(sp, 0.5).toFixed(2)} | ${quantile(sp, 0.9).toFixed(2)} |`,
      );
    }
  }
  if (values.headroom && !values.pin) {
    // Speedups split by the headroom probed just before each round: what threads give when two cores are free
    // versus when other load leaves room for about one.
    console.log(
      '\n| model | threads | rounds with headroom >= 1.6: n, median speedup | rounds below: n, median speedup |',
    );
    console.log('|---|---|---|---|');
    for (const r of results) {
      for (const t of threadCounts.slice(1)) {
        const hi = r.speedups[t]!.filter((_, i) => r.headroom[i]! >= 1.6);
        const lo = r.speedups[t]!.filter((_, i) => r.headroom[i]! < 1.6);
        const med = (xs: number[]): string => (xs.length ? quantile(xs, 0.5).toFixed(2) : '-');
        console.log(`| ${r.model} | ${t} | ${hi.length}, ${med(hi)} | ${lo.length}, ${med(lo)} |`);
      }
    }
  }
  const afterwards = await parallelHeadroom();
  console.log(
    `\nparallel headroom (2 x t(1 loop) / t(2 loops at once); 2.0 = two free cores): ` +
      `${before.toFixed(2)} before, ${afterwards.toFixed(2)} after`,
  );
  if (values.json) console.log(JSON.stringify(results));
}

await main();
