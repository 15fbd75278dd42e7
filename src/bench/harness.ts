/**
 * The benchmark harness. Each configuration is loaded in its own host process, one at a time (so cold starts
 * do not overlap), warmed up, then all configurations are measured interleaved: round-robin, one run each per
 * round, until every configuration has `runs` samples (or `minTimeS` seconds of samples). Interleaving spreads
 * slow drifts of the machine (thermal, neighbours) evenly over configurations, so ratios stay fair.
 * `underLoad` repeats the rounds with N busy background threads competing for the CPU.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EdgecnnError } from '../ir/errors.js';
import { type Environment, type WasmFeatures, environment, modelHash } from './environment.js';
import type { HostReply, HostRequest } from './host.js';
import { type InputSpec, type OutputSample, maxDrift } from './inputs.js';
import type { Progress } from './progress.js';
import { type LatencySummary, type RatioInterval, bootstrapMedianRatio, summarize } from './stats.js';
import { type ConfigSpec, type ProfiledStep, configId } from './targets.js';

export interface BenchOptions {
  modelPath: string;
  configs: ConfigSpec[];
  inputs: InputSpec[];
  /** Samples per configuration (ignored when minTimeS is set). */
  runs?: number;
  /** Measure until every configuration has this many seconds of samples (at least `minRuns`). */
  minTimeS?: number;
  minRuns?: number;
  warmup?: number;
  /** Repeat the measurement with this many busy background threads. */
  underLoad?: number;
  /** Profiled runs to collect from configurations that support per-step profiling (0 = none). */
  profileRuns?: number;
  progress?: Progress;
  /** Longest wait for a configuration to load and warm up (default 10 minutes). */
  loadTimeoutMs?: number;
  /** Extra V8 flags for the host processes (e.g. --experimental-wasm-relaxed-simd). */
  execArgv?: string[];
}

export interface Measurement {
  samplesMs: number[];
  /** Wall-clock start of each sample (ms since the epoch), which shows the interleaving and any drift. */
  startedAtMs: number[];
  summary: LatencySummary;
}

export interface ConfigResult {
  id: string;
  target: ConfigSpec['target'];
  threads: number;
  status: 'ok' | 'skipped' | 'failed';
  /** Why the configuration was skipped or failed. */
  reason?: string;
  cold?: { loadMs: number; firstRunMs: number };
  memory?: { peakRssBytes: number; rssBeforeLoadBytes: number; arenaBytes?: number };
  warmupMs?: number[];
  /** WebAssembly features in the configuration's own process. */
  wasm?: WasmFeatures;
  measured?: Measurement;
  underLoad?: Measurement & { workers: number };
  outputs?: OutputSample[];
  /** Largest absolute output difference against the onnxruntime-node configuration, when one ran. */
  maxDiffVsOrtNode?: number;
  /** Per-step profiles of `profileRuns` runs (edgecnn targets only). */
  profileRuns?: ProfiledStep[][];
}

export interface RatioRow {
  config: string;
  vs: string;
  /** median(config) / median(vs): below 1 means `config` is faster. */
  timeRatio: RatioInterval;
  underLoad?: RatioInterval;
}

export interface BenchReport {
  schema: 'edgecnn-bench/1';
  createdAt: string;
  environment: Environment;
  model: { name: string; path: string; sha256: string; sizeBytes: number };
  settings: {
    runs?: number;
    minTimeS?: number;
    warmup: number;
    underLoad: number;
    inputs: InputSpec[];
    interleaving: 'round-robin';
    /** V8 flags of the host processes. */
    hostExecArgv: string[];
  };
  configs: ConfigResult[];
  ratios: RatioRow[];
}

const HOST_PATH = fileURLToPath(new URL('./host.js', import.meta.url));

/** A host process and a one-request-at-a-time channel to it. */
class Host {
  private child: ChildProcess;
  private stderr = '';
  private pending: { resolve: (r: HostReply) => void; reject: (e: Error) => void } | undefined;
  private exited: Error | undefined;
  private killed = false;

  constructor(
    readonly id: string,
    execArgv: string[],
  ) {
    this.child = fork(HOST_PATH, [], {
      env: { ...process.env, EDGECNN_BENCH_HOST: '1' },
      execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    // Send failures are handled where they happen (callbacks below); without a listener they would crash us.
    this.child.on('error', () => {});
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.on('message', (m: HostReply) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(m);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(
        `host for ${id} exited (${signal ?? code})${this.stderr ? ': ' + this.stderr.trim().split('\n').slice(-3).join(' | ') : ''}`,
      );
      this.pending?.reject(this.exited);
      this.pending = undefined;
    });
  }

  /** Time allowed for one timed run, set from the warm-up once the model is loaded. */
  runTimeoutMs = 60000;

  /** Send one request; a host that does not answer within `timeoutMs` is killed, never waited on forever. */
  request(req: HostRequest, timeoutMs: number): Promise<HostReply> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.killed = true;
        this.child.kill('SIGKILL');
        reject(
          new Error(`${this.id} did not answer '${req.op}' within ${(timeoutMs / 1000).toFixed(0)} s; stopped it`),
        );
      }, timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(req, (err) => {
        if (err) this.pending?.reject(err);
      });
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    if (this.killed || !this.child.connected) {
      this.child.kill('SIGKILL');
      await done;
      return;
    }
    // A child that died between the check and the send answers with EPIPE: kill it and let exit resolve.
    this.child.send({ op: 'exit' } satisfies HostRequest, (err) => {
      if (err) this.child.kill('SIGKILL');
    });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

function expect<K extends HostReply['op']>(r: HostReply, op: K): Extract<HostReply, { op: K }> {
  if (r.op === 'error') throw new Error(r.message);
  if (r.op !== op) throw new Error(`host answered '${r.op}', expected '${op}'`);
  return r as Extract<HostReply, { op: K }>;
}

/** Busy background threads that compete for the CPU (arithmetic over a cache-sized buffer). */
export function startBusyWorkers(n: number): { stop(): Promise<void> } {
  const code = `
    const a = new Float64Array(1 << 19);
    for (let i = 0; i < a.length; i++) a[i] = i;
    let s = 0;
    for (;;) { for (let i = 0; i < a.length; i++) { s += a[i] * 1.0000001; a[i] = s % 1024; } }
  `;
  const workers = Array.from({ length: n }, () => new Worker(code, { eval: true }));
  return {
    async stop() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Round-robin until every live host has its samples. A host that fails or hangs is dropped (and reported in
 * `failed`); the others carry on.
 */
async function rounds(
  all: Host[],
  opts: BenchOptions,
  label: string,
): Promise<{ measured: Map<string, Measurement>; failed: Map<string, string> }> {
  const failed = new Map<string, string>();
  let hosts = all;
  const samples = new Map<string, number[]>(hosts.map((h) => [h.id, []]));
  const starts = new Map<string, number[]>(hosts.map((h) => [h.id, []]));
  const totals = new Map<string, number>(hosts.map((h) => [h.id, 0]));
  const minRuns = opts.minRuns ?? 10;
  const runs = opts.runs ?? 50;
  const maxRuns = 100000;
  const byTime = opts.minTimeS !== undefined;
  const target = byTime ? opts.minTimeS! * 1000 : runs;
  const progressOf = (): number => {
    let worst = Infinity;
    for (const h of hosts) {
      const done = byTime
        ? Math.min(totals.get(h.id)! / target, samples.get(h.id)!.length / minRuns)
        : samples.get(h.id)!.length / target;
      worst = Math.min(worst, done);
    }
    return Math.min(1, worst);
  };
  opts.progress?.start(label, 1);
  let live = hosts;
  while (live.length > 0 && progressOf() < 1) {
    for (const h of live) {
      let r: Extract<HostReply, { op: 'ran' }>;
      try {
        r = expect(await h.request({ op: 'run', count: 1 }, h.runTimeoutMs), 'ran');
      } catch (e) {
        failed.set(h.id, (e as Error).message);
        opts.progress?.note(`failed ${h.id}: ${(e as Error).message}`);
        continue;
      }
      samples.get(h.id)!.push(...r.timesMs);
      starts.get(h.id)!.push(...r.startedAtMs);
      totals.set(h.id, totals.get(h.id)! + r.timesMs.reduce((a, b) => a + b, 0));
    }
    if (failed.size > 0) {
      hosts = hosts.filter((h) => !failed.has(h.id));
      live = live.filter((h) => !failed.has(h.id));
    }
    // Configurations that already have enough keep running only in run-count mode (equal n); in time mode a
    // fast configuration stops once its own budget is met, a slow one continues alone.
    if (byTime) {
      live = live.filter(
        (h) =>
          (totals.get(h.id)! < target || samples.get(h.id)!.length < minRuns) && samples.get(h.id)!.length < maxRuns,
      );
    }
    opts.progress?.update(progressOf());
  }
  opts.progress?.finish();
  const measured = new Map(
    hosts.map((h) => {
      const xs = samples.get(h.id)!;
      return [h.id, { samplesMs: xs, startedAtMs: starts.get(h.id)!, summary: summarize(xs) }];
    }),
  );
  return { measured, failed };
}

/** Run the benchmark described by `opts` and return the full report (not yet written anywhere). */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const warmup = opts.warmup ?? 5;
  const bytes = new Uint8Array(readFileSync(opts.modelPath));
  const results: ConfigResult[] = [];
  const hosts: Host[] = [];
  const hostArgv = [...new Set([...process.execArgv, ...(opts.execArgv ?? [])])];
  try {
    for (const c of opts.configs) {
      const id = configId(c);
      const r: ConfigResult = { id, target: c.target, threads: c.threads, status: 'ok' };
      results.push(r);
      opts.progress?.note(`loading ${id}`);
      const host = new Host(id, hostArgv);
      let reply: HostReply;
      try {
        reply = await host.request(
          {
            op: 'load',
            target: c.target,
            threads: c.threads,
            modelPath: c.model?.path ?? opts.modelPath,
            inputs: opts.inputs,
            warmup,
          },
          opts.loadTimeoutMs ?? 600000,
        );
      } catch (e) {
        reply = { op: 'error', message: (e as Error).message, unavailable: false };
      }
      if (reply.op !== 'loaded') {
        const msg = reply.op === 'error' ? reply.message : `unexpected reply ${reply.op}`;
        r.status = reply.op === 'error' && reply.unavailable ? 'skipped' : 'failed';
        r.reason = msg;
        opts.progress?.note(`${r.status} ${id}: ${msg}`);
        await host.close();
        continue;
      }
      r.cold = { loadMs: reply.loadMs, firstRunMs: reply.firstRunMs };
      // A run may take far longer than the warm-up under contention, but not 50 times longer.
      host.runTimeoutMs = Math.max(30000, 50 * Math.max(reply.firstRunMs, ...reply.warmupMs));
      r.warmupMs = reply.warmupMs;
      r.wasm = reply.wasm;
      r.outputs = reply.outputs;
      r.memory = { peakRssBytes: 0, rssBeforeLoadBytes: reply.rssBeforeLoadBytes, arenaBytes: reply.arenaBytes };
      if (opts.profileRuns && reply.canProfile) {
        opts.progress?.note(`profiling ${id} (${opts.profileRuns} runs)`);
        try {
          const p = await host.request(
            { op: 'profile', runs: opts.profileRuns },
            host.runTimeoutMs * (opts.profileRuns + 1),
          );
          r.profileRuns = expect(p, 'profiled').runs;
        } catch (e) {
          opts.progress?.note(`profiling ${id} failed: ${(e as Error).message}`);
        }
      }
      hosts.push(host);
    }
    if (hosts.length === 0) {
      throw new EdgecnnError(
        `no configuration could run: ${results.map((r) => `${r.id}: ${r.reason}`).join('; ')}`,
        'bad-argument',
      );
    }
    const ok = (id: string): ConfigResult => results.find((r) => r.id === id)!;
    const idle = await rounds(hosts, opts, 'measuring');
    for (const [id, m] of idle.measured) ok(id).measured = m;
    for (const [id, reason] of idle.failed) Object.assign(ok(id), { status: 'failed', reason });
    const live = (): Host[] => hosts.filter((h) => ok(h.id).status === 'ok');
    if (opts.underLoad && opts.underLoad > 0) {
      const load = startBusyWorkers(opts.underLoad);
      try {
        await new Promise((r) => setTimeout(r, 200));
        const busy = await rounds(live(), opts, `measuring under load (${opts.underLoad} busy threads)`);
        for (const [id, m] of busy.measured) ok(id).underLoad = { ...m, workers: opts.underLoad };
        for (const [id, reason] of busy.failed) ok(id).reason = `under load: ${reason}`;
      } finally {
        await load.stop();
      }
    }
    for (const h of live()) {
      try {
        ok(h.id).memory!.peakRssBytes = expect(await h.request({ op: 'memory' }, 30000), 'memory').peakRssBytes;
      } catch (e) {
        ok(h.id).reason = `peak RSS unknown: ${(e as Error).message}`;
      }
    }
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
  const ortNode = results.find((r) => r.target === 'ort-node' && r.outputs);
  if (ortNode) {
    for (const r of results) {
      if (r !== ortNode && r.outputs) {
        try {
          r.maxDiffVsOrtNode = maxDrift(r.outputs, ortNode.outputs!);
        } catch {
          r.maxDiffVsOrtNode = Infinity;
        }
      }
    }
  }
  return {
    schema: 'edgecnn-bench/1',
    createdAt: new Date().toISOString(),
    environment: environment(),
    model: {
      name: basename(opts.modelPath).replace(/\.onnx$/, ''),
      path: opts.modelPath,
      sha256: modelHash(bytes),
      sizeBytes: statSync(opts.modelPath).size,
    },
    settings: {
      runs: opts.minTimeS === undefined ? (opts.runs ?? 50) : undefined,
      minTimeS: opts.minTimeS,
      warmup,
      underLoad: opts.underLoad ?? 0,
      inputs: opts.inputs,
      interleaving: 'round-robin',
      hostExecArgv: hostArgv,
    },
    configs: results,
    ratios: ratioRows(results),
  };
}

/**
 * Ratios of every edgecnn configuration against every peer configuration with the same thread count; when
 * no edgecnn configuration ran, every configuration against the first ok one (peer against peer).
 */
export function ratioRows(results: readonly ConfigResult[]): RatioRow[] {
  const ok = results.filter((r) => r.status === 'ok' && r.measured);
  const ours = ok.filter((r) => r.target.startsWith('edgecnn'));
  const rows: RatioRow[] = [];
  const pair = (a: ConfigResult, b: ConfigResult): void => {
    rows.push({
      config: a.id,
      vs: b.id,
      timeRatio: bootstrapMedianRatio(a.measured!.samplesMs, b.measured!.samplesMs),
      underLoad:
        a.underLoad && b.underLoad ? bootstrapMedianRatio(a.underLoad.samplesMs, b.underLoad.samplesMs) : undefined,
    });
  };
  if (ours.length > 0) {
    for (const a of ours)
      for (const b of ok) if (!b.target.startsWith('edgecnn') && b.threads === a.threads) pair(a, b);
  } else {
    for (const b of ok.slice(1)) pair(b, ok[0]!);
  }
  return rows;
}
