/**
 * `edgecnn tune <model>`: measure each compiled step's candidate kernels on this machine within a time budget,
 * store the winners in the tuning database, and print per step the cost model's kernel, the tuned one and their
 * times. Also the `--tune` / `--tuning-db` flags that run, profile and bench share.
 */
import { EdgecnnError } from '../ir/errors.js';
import { loadModel } from '../onnx/index.js';
import { type SessionOptions, createSession } from '../runtime/session.js';
import { openTuningDb } from '../tune/db.js';
import type { TuneReport } from '../tune/tune.js';
import { type ParsedArgs, flagBool, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import { table } from './format.js';
import { INPUT_FLAGS, inputFlagsFrom, resolveInputShapes } from './model-inputs.js';

/** The tuning flags of run, profile and bench. */
export const TUNE_FLAGS = {
  tune: { type: 'boolean', description: 'tune kernels on this machine first (results kept in the tuning database)' },
  'budget-ms': { type: 'number', description: 'with --tune: time budget for measuring, ms (default 5000)' },
  'tuning-db': {
    type: 'string',
    description: 'tuning database file (default $XDG_CACHE_HOME/edgecnn/tuning.json or ~/.cache/edgecnn/tuning.json)',
  },
} as const;

function budgetFrom(p: ParsedArgs): number | undefined {
  const b = flagNumber(p, 'budget-ms');
  if (b !== undefined && !(Number.isFinite(b) && b >= 0)) {
    throw new EdgecnnError(
      `--budget-ms needs a non-negative number, got ${flagString(p, 'budget-ms')}`,
      'bad-argument',
    );
  }
  return b;
}

/** Session options for `--tune [--budget-ms N] [--tuning-db FILE]` (none without --tune). */
export async function tuneOptionsFrom(p: ParsedArgs): Promise<Pick<SessionOptions, 'tune'>> {
  if (!flagBool(p, 'tune')) {
    if (flagNumber(p, 'budget-ms') !== undefined || flagString(p, 'tuning-db') !== undefined) {
      throw new EdgecnnError('--budget-ms and --tuning-db need --tune', 'bad-argument');
    }
    return {};
  }
  const budgetMs = budgetFrom(p);
  const db = await openTuningDb(flagString(p, 'tuning-db'));
  return { tune: { db, ...(budgetMs !== undefined ? { budgetMs } : {}) } };
}

const ms = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(3));

/** The text report: one row per tuned step, then totals over the steps' measured times. */
export function formatTuneReport(r: TuneReport): string {
  const rows = r.steps.map((s) => {
    const a = s.timesMs[s.costModelId];
    const b = s.timesMs[s.tunedId];
    return [
      s.nodeName,
      s.costModelId,
      s.tunedId === s.costModelId ? '=' : s.tunedId,
      ms(a),
      ms(b),
      a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '-',
      s.source,
    ];
  });
  const measured = r.steps.filter((s) => s.timesMs[s.costModelId] !== undefined);
  const before = measured.reduce((acc, s) => acc + s.timesMs[s.costModelId]!, 0);
  const after = measured.reduce((acc, s) => acc + (s.timesMs[s.tunedId] ?? s.timesMs[s.costModelId]!), 0);
  const changed = r.steps.filter((s) => s.tunedId !== s.costModelId).length;
  return [
    `device: ${r.device.id}`,
    `edgecnn ${r.edgecnnVersion}; database: ${r.db}`,
    `${r.specs.total} distinct kernel specs: ${r.specs.measured} measured, ${r.specs.fromDb} from the database, ` +
      `${r.specs.skipped} left to the cost model (budget); measuring took ${r.elapsedMs.toFixed(0)} ms of ${r.budgetMs} ms`,
    '',
    table(['step', 'cost model', 'tuned', 'cost ms', 'tuned ms', 'speedup', 'source'], rows),
    '',
    `${changed} of ${r.steps.length} steps changed; sum over steps with timings: cost model ${before.toFixed(3)} ms, ` +
      `tuned ${after.toFixed(3)} ms` +
      (after > 0 ? ` (${(before / after).toFixed(3)}x, isolated kernel times, one thread)` : ''),
    ...(r.wholeModel
      ? [
          `whole model, ${r.wholeModel.runs} interleaved runs each: cost model ${r.wholeModel.costModelMs.toFixed(3)} ms, ` +
            `tuned ${r.wholeModel.tunedMs.toFixed(3)} ms` +
            (r.wholeModel.reverted ? " -> not faster: this run's changes reverted to the cost model" : ''),
        ]
      : []),
  ].join('\n');
}

export const command: Command = {
  name: 'tune',
  synopsis: '<model.onnx> [--budget-ms N] [--db FILE] [--force] [--json]',
  summary: 'Auto-tune kernel variants on this machine and store the choices in the tuning database',
  flags: {
    'budget-ms': { type: 'number', description: 'time budget for measuring, ms (default 5000)' },
    db: {
      type: 'string',
      description: 'tuning database file (default $XDG_CACHE_HOME/edgecnn/tuning.json or ~/.cache/edgecnn/tuning.json)',
    },
    force: { type: 'boolean', description: 'measure again specs the database already holds' },
    json: { type: 'boolean', description: 'print the report as JSON' },
    ...INPUT_FLAGS,
  },
  async run(positionals, p) {
    const path = positionals[0];
    if (!path || positionals.length > 1) throw new EdgecnnError('tune needs exactly one model file', 'bad-argument');
    const model = await loadModel(path);
    const iflags = inputFlagsFrom(model, p);
    const budgetMs = budgetFrom(p);
    const db = await openTuningDb(flagString(p, 'db'));
    const quiet = flagBool(p, 'json');
    const showProgress = !quiet && process.stderr.isTTY;
    const session = await createSession(model, {
      inputShapes: resolveInputShapes(model, iflags.shapes),
      tune: {
        db,
        force: flagBool(p, 'force'),
        ...(budgetMs !== undefined ? { budgetMs } : {}),
        onProgress: showProgress
          ? (done, total) => process.stderr.write(`\rtuning: spec ${done + 1}/${total}`.padEnd(30))
          : undefined,
      },
    });
    if (showProgress) process.stderr.write('\r'.padEnd(31) + '\r');
    const report = session.tuning!;
    await session.close();
    if (quiet) console.log(JSON.stringify(report, null, 1));
    else console.log(formatTuneReport(report));
    return 0;
  },
};
