/**
 * On-device auto-tuning of a compile. Three phases: (1) compile once with a chooser that takes the cost
 * model's candidate and records every choice point; (2) per distinct spec key, largest MACs first, measure
 * the candidates (measure.ts) until the time budget is spent, keeping the cost model's choice unless another
 * candidate is faster by more than `margin`, and write the result to the tuning database; (3) compile again
 * with `databaseChooser`, which applies the database's choices, and (given `instantiate`) time the whole tuned
 * and untuned models interleaved: when the tuned one is not faster, this run's changes are reverted to the
 * cost model's choices. Specs the database already holds for this device and version are not measured again
 * (unless `force`).
 */
import type { ChooseKernel, KernelChoice } from '../codegen/select.js';
import type { CompiledModel } from '../runtime/compiled-model.js';
import type { Executor } from '../runtime/executor.js';
import { compareWholeModels } from './verify.js';
import { type TuningDb, type TuningRecord, memoryTuningDb } from './db.js';
import { type DeviceFingerprint, EDGECNN_VERSION, deviceFingerprint } from './device.js';
import { measureCandidates } from './measure.js';

export interface TuneOptions {
  /** Time budget for measuring, in ms (default 5000); specs left when it runs out keep the cost model's choice. */
  budgetMs?: number;
  /** Where results are read from and written to (default: a memory database). */
  db?: TuningDb;
  /** Measure specs the database already holds. */
  force?: boolean;
  /** A candidate replaces the cost model's choice only when faster by more than this fraction (default 0.03). */
  margin?: number;
  /** Timed samples per candidate (default 7). */
  samples?: number;
  /** Called before each spec is measured. */
  onProgress?: (done: number, total: number, specKey: string) => void;
  /**
   * Instantiates a compiled model (for the whole-model check); without it the check is skipped. Sessions pass
   * the executor with their fallback op table.
   */
  instantiate?: (compiled: CompiledModel) => Promise<Executor>;
}

/** What tuning decided for one compiled step. */
export interface TunedStep {
  nodeName: string;
  specKey: string;
  costModelId: string;
  tunedId: string;
  /** Median ms per candidate (empty when skipped for the budget). */
  timesMs: Record<string, number>;
  /** `measured` now, found in the `database`, or left to the cost model because the `budget` ran out. */
  source: 'measured' | 'database' | 'budget';
}

export interface TuneReport {
  device: DeviceFingerprint;
  edgecnnVersion: string;
  /** `TuningDb.location`. */
  db: string;
  /** Choice points, in step order. */
  steps: TunedStep[];
  /** Distinct spec keys, and how many of them were measured now, found in the database, or skipped. */
  specs: { total: number; measured: number; fromDb: number; skipped: number };
  /** Wall time of the measuring phase. */
  elapsedMs: number;
  budgetMs: number;
  /**
   * The whole-model check (when steps changed and `instantiate` was given): median ms of the untuned and tuned
   * models run interleaved, and whether this run's changes were reverted because the tuned model was slower.
   */
  wholeModel?: { costModelMs: number; tunedMs: number; runs: number; reverted: boolean };
}

const DEFAULT_BUDGET_MS = 5000;

/** The tuned model may be this much slower than the untuned one in the whole-model check (noise) before reverting. */
const WHOLE_MODEL_TOLERANCE = 0.01;

/** Threads `'auto'` may use (src/runtime/threads): tuning keeps at least this much parallel work per step. */
const MAX_AUTO_THREADS = 4;

/** A chooser applying the database's choices for this device and version (the cost model's elsewhere). */
export function databaseChooser(db: TuningDb, device: string, edgecnnVersion = EDGECNN_VERSION): ChooseKernel {
  return (choice) => {
    const r = db.get(device, edgecnnVersion, choice.specKey);
    return (r && choice.candidates.find((c) => c.id === r.variantId)) ?? choice.candidates[0]!;
  };
}

/**
 * Tune the choice points of the compile `compileWith(choose)` runs (phases 1 and 2): returns the report and
 * leaves the results in `options.db`, saved. Compile again with `databaseChooser` to apply them.
 */
export async function tuneCompile<C extends CompiledModel>(
  compileWith: (choose: ChooseKernel) => C,
  options: TuneOptions = {},
): Promise<{ report: TuneReport; compiled: C }> {
  const db = options.db ?? memoryTuningDb();
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const margin = options.margin ?? 0.03;
  const device = await deviceFingerprint();
  const version = EDGECNN_VERSION;

  const choices: KernelChoice[] = [];
  const untuned = compileWith((choice) => {
    choices.push(choice);
    return choice.candidates[0]!;
  });

  // Distinct specs, most multiply-accumulates first: the budget goes where the time is.
  const bySpec = new Map<string, { choice: KernelChoice; macs: number }>();
  for (const c of choices) {
    if (!bySpec.has(c.specKey)) bySpec.set(c.specKey, { choice: c, macs: c.candidates[0]!.lower().macs });
  }
  const order = [...bySpec.values()].sort((a, b) => b.macs - a.macs);

  const results = new Map<string, { record?: TuningRecord; source: TunedStep['source'] }>();
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let done = 0;
  for (const { choice } of order) {
    const known = db.get(device.id, version, choice.specKey);
    const stillValid = known && choice.candidates.some((c) => c.id === known.variantId);
    if (known && stillValid && !options.force) {
      results.set(choice.specKey, { record: known, source: 'database' });
      continue;
    }
    if (performance.now() > deadline) {
      results.set(choice.specKey, { source: 'budget' });
      continue;
    }
    options.onProgress?.(done++, order.length, choice.specKey);
    const timings = await measureCandidates(choice, {
      deadline,
      ...(options.samples !== undefined ? { samples: options.samples } : {}),
    });
    const base = timings[0]!;
    // Timed on one thread; a candidate with fewer work items than threads can share (up to the CLI's 4) would
    // win here and lose on a threaded session (e.g. a 4x8 tile on a one-row GEMM), so it is not eligible.
    const minExtent = Math.min(MAX_AUTO_THREADS, base.parallelExtent);
    const eligible = timings.filter((t) => t.parallelExtent >= minExtent);
    const fastest = eligible.reduce((a, b) => (b.timeMs < a.timeMs ? b : a));
    let pick = fastest.timeMs < base.timeMs * (1 - margin) ? fastest : base;
    if (pick !== base) {
      // A shared machine can slow one candidate's samples: confirm the switch head to head before taking it.
      const pair = choice.candidates.filter((c) => c.id === base.id || c.id === pick.id);
      const again = await measureCandidates({ ...choice, candidates: pair }, { samples: 9 });
      const [b, f] = [again.find((t) => t.id === base.id)!, again.find((t) => t.id === pick.id)!];
      if (!(f.timeMs < b.timeMs * (1 - margin))) pick = base;
    }
    const record: TuningRecord = {
      device: device.id,
      edgecnnVersion: version,
      specKey: choice.specKey,
      variantId: pick.id,
      costModelId: base.id,
      timesMs: Object.fromEntries(timings.map((t) => [t.id, Number(t.timeMs.toPrecision(4))])),
      tunedAt: new Date().toISOString(),
    };
    db.put(record);
    results.set(choice.specKey, { record, source: 'measured' });
  }
  const elapsedMs = performance.now() - t0;
  let compiled = compileWith(databaseChooser(db, device.id, version));
  let wholeModel: TuneReport['wholeModel'];
  const changed = choices.some((c) => databaseChooser(db, device.id, version)(c) !== c.candidates[0]);
  if (options.instantiate && changed) {
    const cmp = await compareWholeModels(untuned, compiled, options.instantiate);
    const reverted = cmp.tunedMs > cmp.costModelMs * (1 + WHOLE_MODEL_TOLERANCE);
    if (reverted) {
      // Kernel times measured alone did not add up in the model: keep the cost model for what was tuned now.
      for (const [key, r] of results) {
        if (r.source !== 'measured' || !r.record || r.record.variantId === r.record.costModelId) continue;
        r.record = { ...r.record, variantId: r.record.costModelId };
        db.put(r.record);
        results.set(key, r);
      }
      compiled = compileWith(databaseChooser(db, device.id, version));
    }
    wholeModel = { ...cmp, reverted };
  }
  await db.save();

  const steps: TunedStep[] = choices.map((c) => {
    const r = results.get(c.specKey)!;
    const costModelId = c.candidates[0]!.id;
    return {
      nodeName: c.node.name,
      specKey: c.specKey,
      costModelId,
      tunedId: r.record?.variantId ?? costModelId,
      timesMs: r.record?.timesMs ?? {},
      source: r.source,
    };
  });
  const count = (s: TunedStep['source']): number => [...results.values()].filter((r) => r.source === s).length;
  const report: TuneReport = {
    device,
    edgecnnVersion: version,
    db: db.location,
    steps,
    specs: { total: results.size, measured: count('measured'), fromDb: count('database'), skipped: count('budget') },
    elapsedMs,
    budgetMs,
    ...(wholeModel ? { wholeModel } : {}),
  };
  return { report, compiled };
}
