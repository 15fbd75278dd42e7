/**
 * A configuration host: one child process per benchmark configuration, driven over Node's IPC channel.
 * Isolation gives each configuration its own peak RSS, its own cold start, and its own onnxruntime-web
 * thread pool (numThreads is per process). The parent interleaves configurations by asking each host for
 * one timed run per round; timing happens here, around the run alone, so IPC latency never enters a sample.
 */
import { readFileSync } from 'node:fs';
import { type WasmFeatures, detectWasmFeatures } from './environment.js';
import { materializeInput, sampleOutput, type InputSpec, type OutputSample } from './inputs.js';
import { type LoadedTarget, type ProfiledStep, type TargetKind, PeerUnavailable, getTarget } from './targets.js';

export type HostRequest =
  | { op: 'load'; target: TargetKind; threads: number; modelPath: string; inputs: InputSpec[]; warmup: number }
  | { op: 'run'; count: number }
  | { op: 'profile'; runs: number }
  | { op: 'memory' }
  | { op: 'exit' };

export type HostReply =
  | {
      op: 'loaded';
      loadMs: number;
      firstRunMs: number;
      warmupMs: number[];
      outputs: OutputSample[];
      arenaBytes?: number;
      rssBeforeLoadBytes: number;
      canProfile: boolean;
      /** WebAssembly features of this host process (its V8 flags may differ from the parent's). */
      wasm: WasmFeatures;
    }
  | { op: 'ran'; timesMs: number[]; startedAtMs: number[] }
  | { op: 'profiled'; runs: ProfiledStep[][] }
  | { op: 'memory'; peakRssBytes: number }
  | { op: 'error'; message: string; unavailable: boolean };

/**
 * Peak resident set size of this process so far (bytes). On Linux this is VmHWM from /proc/self/status,
 * which belongs to this process's own address space; getrusage's maxRSS is not used there because Linux
 * carries it across fork and exec, so a child would report its parent's peak whenever that is higher.
 */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through to getrusage
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Test hook: EDGECNN_BENCH_SLOWDOWN=0.2 makes every timed run of an edgecnn target 20% slower by spinning
 * after it (peers are untouched, as with a real edgecnn regression), so the regression gate can be exercised
 * end to end on a real measurement. Never set in normal use.
 */
const SLOWDOWN = Number(process.env.EDGECNN_BENCH_SLOWDOWN ?? 0) || 0;
let slowdown = 0;

async function timedRun(loaded: LoadedTarget): Promise<number> {
  const t0 = performance.now();
  await loaded.run();
  let t = performance.now();
  if (slowdown > 0) {
    const until = t0 + (t - t0) * (1 + slowdown);
    while ((t = performance.now()) < until) {
      // spin: the injected time must cost CPU like a slower kernel would
    }
  }
  return t - t0;
}

function send(reply: HostReply): Promise<void> {
  return new Promise((resolve) => process.send!(reply, () => resolve()));
}

async function serve(): Promise<void> {
  let loaded: LoadedTarget | undefined;
  const queue: HostRequest[] = [];
  let busy = false;
  const handle = async (req: HostRequest): Promise<void> => {
    switch (req.op) {
      case 'load': {
        const rssBeforeLoadBytes = peakRssBytes();
        const t0 = performance.now();
        // The Buffer itself (a Uint8Array): copying it would keep two copies of the model alive through the load.
        const bytes: Uint8Array = readFileSync(req.modelPath);
        const inputs = req.inputs.map(materializeInput);
        loaded = await getTarget(req.target).load(bytes, inputs, req.threads);
        slowdown = req.target.startsWith('edgecnn') ? SLOWDOWN : 0;
        const loadMs = performance.now() - t0;
        const t1 = performance.now();
        const outs = await loaded.run();
        const firstRunMs = performance.now() - t1;
        const warmupMs: number[] = [];
        for (let i = 0; i < req.warmup; i++) warmupMs.push(await timedRun(loaded));
        await send({
          op: 'loaded',
          loadMs,
          firstRunMs,
          warmupMs,
          outputs: outs.map((o) => sampleOutput(o)),
          arenaBytes: loaded.arenaBytes,
          rssBeforeLoadBytes,
          canProfile: loaded.runProfiled !== undefined,
          wasm: detectWasmFeatures(),
        });
        return;
      }
      case 'run': {
        if (!loaded) throw new Error('run before load');
        const timesMs: number[] = [];
        const startedAtMs: number[] = [];
        for (let i = 0; i < req.count; i++) {
          startedAtMs.push(performance.timeOrigin + performance.now());
          timesMs.push(await timedRun(loaded));
        }
        await send({ op: 'ran', timesMs, startedAtMs });
        return;
      }
      case 'profile': {
        if (!loaded?.runProfiled) throw new Error('this target has no per-step profile');
        const runs: ProfiledStep[][] = [];
        for (let i = 0; i < req.runs; i++) runs.push(await loaded.runProfiled());
        await send({ op: 'profiled', runs });
        return;
      }
      case 'memory':
        await send({ op: 'memory', peakRssBytes: peakRssBytes() });
        return;
      case 'exit':
        await loaded?.dispose();
        process.exit(0);
    }
  };
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    while (queue.length > 0) {
      const req = queue.shift()!;
      try {
        await handle(req);
      } catch (e) {
        await send({
          op: 'error',
          message: e instanceof Error ? e.message : String(e),
          unavailable: e instanceof PeerUnavailable,
        });
      }
    }
    busy = false;
  };
  process.on('message', (m: HostRequest) => {
    queue.push(m);
    void pump();
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.send && process.env.EDGECNN_BENCH_HOST === '1') void serve();
