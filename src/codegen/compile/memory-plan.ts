/**
 * Static memory plan: every activation tensor of a compiled model gets a fixed byte offset in one arena.
 * Tensors first collapse into storage blocks (views such as reshape aliases and concat-input slices live inside
 * their parent's block; an elementwise output may take over the block of an input that dies at that step), then
 * blocks are placed greedy-by-size with best fit (TFLite's `greedy_by_size`, TVM's static_plan_block_memory):
 * the largest block first, into the smallest gap left by already-placed blocks whose lifetimes overlap.
 * Invariants: offsets are `ALIGN_BYTES`-aligned; two blocks whose lifetimes (inclusive step intervals) overlap
 * never share a byte; `arenaBytes >= lowerBoundBytes` (the peak sum of simultaneously live blocks).
 */
import { EdgecnnError } from '../../ir/errors.js';

/** Offsets and block sizes are multiples of this (a cache line; also keeps every v128 access aligned). */
export const ALIGN_BYTES = 64;

/** One tensor to place. Steps are indices in the schedule; graph inputs are defined at step -1. */
export interface TensorLifetime {
  name: string;
  sizeBytes: number;
  /** Step that writes it (for a view: the step that writes this slice). */
  defStep: number;
  /** Last step that reads it (inclusive); `Infinity` for graph outputs, which must survive the run. */
  lastStep: number;
  /** The tensor lives inside another tensor's storage, `offsetBytes` from its start (reshape alias, concat slice). */
  viewOf?: { name: string; offsetBytes: number };
  /**
   * Inputs of the defining step whose storage this tensor may reuse (elementwise ops computed in place). The
   * planner takes the first one whose block dies exactly at `defStep` and is at least as large.
   */
  inPlaceOf?: readonly string[];
}

/** A storage block: the unit the planner places. */
export interface PlannedBlock {
  offsetBytes: number;
  sizeBytes: number;
  firstStep: number;
  lastStep: number;
  /** Tensors stored in this block. */
  members: string[];
}

export interface MemoryPlan {
  /** Byte offset of every tensor inside the arena. */
  offsets: Map<string, number>;
  blocks: PlannedBlock[];
  arenaBytes: number;
  /** Largest sum of sizes of blocks live at one step: no plan of these blocks can be smaller. */
  lowerBoundBytes: number;
  /** Tensors that took over an input's block (in-place). */
  inPlace: { tensor: string; reuses: string }[];
}

export function alignUp(n: number, align = ALIGN_BYTES): number {
  return Math.ceil(n / align) * align;
}

interface Block {
  sizeBytes: number;
  firstStep: number;
  lastStep: number;
  members: Map<string, number>; // tensor -> offset within the block
  hasViews: boolean;
}

/** Plan the arena for `tensors` (any order; names unique). */
export function planMemory(tensors: readonly TensorLifetime[]): MemoryPlan {
  const byName = new Map<string, TensorLifetime>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new EdgecnnError(`memory plan: tensor '${t.name}' listed twice`, 'internal');
    if (!(t.sizeBytes >= 0) || !(t.lastStep >= t.defStep)) {
      throw new EdgecnnError(
        `memory plan: tensor '${t.name}' has size ${t.sizeBytes} and steps [${t.defStep}, ${t.lastStep}]`,
        'internal',
      );
    }
    byName.set(t.name, t);
  }

  // 1. Views: resolve chains (a slice of a reshape of a concat output...) to a root tensor and an offset.
  const rootOf = new Map<string, { root: string; offsetBytes: number }>();
  const resolve = (name: string, seen: Set<string>): { root: string; offsetBytes: number } => {
    const cached = rootOf.get(name);
    if (cached) return cached;
    const t = byName.get(name);
    if (!t) throw new EdgecnnError(`memory plan: view of unknown tensor '${name}'`, 'internal');
    if (!t.viewOf) return { root: name, offsetBytes: 0 };
    if (seen.has(name)) throw new EdgecnnError(`memory plan: views of '${name}' form a cycle`, 'internal');
    seen.add(name);
    const parent = resolve(t.viewOf.name, seen);
    const r = { root: parent.root, offsetBytes: parent.offsetBytes + t.viewOf.offsetBytes };
    rootOf.set(name, r);
    return r;
  };
  const blockOf = new Map<string, Block>();
  for (const t of tensors) {
    const { root, offsetBytes } = resolve(t.name, new Set());
    let b = blockOf.get(root);
    if (!b) {
      const r = byName.get(root)!;
      b = { sizeBytes: r.sizeBytes, firstStep: r.defStep, lastStep: r.lastStep, members: new Map(), hasViews: false };
      blockOf.set(root, b);
    }
    if (t.name !== root) {
      if (offsetBytes + t.sizeBytes > byName.get(root)!.sizeBytes) {
        throw new EdgecnnError(
          `memory plan: view '${t.name}' (${t.sizeBytes} bytes at ${offsetBytes}) overflows '${root}'`,
          'internal',
        );
      }
      b.hasViews = true;
      blockOf.set(t.name, b);
    }
    b.members.set(t.name, offsetBytes);
    b.firstStep = Math.min(b.firstStep, t.defStep);
    b.lastStep = Math.max(b.lastStep, t.lastStep);
  }

  // 2. In place: in definition order, so a chain of elementwise ops keeps handing one block down.
  const inPlace: MemoryPlan['inPlace'] = [];
  const ordered = [...tensors].sort((a, b) => a.defStep - b.defStep);
  for (const t of ordered) {
    if (!t.inPlaceOf || t.viewOf) continue;
    const mine = blockOf.get(t.name)!;
    // The block must start with this tensor: nothing may have written it earlier (e.g. a concat slice).
    if (mine.firstStep !== t.defStep) continue;
    for (const cand of t.inPlaceOf) {
      const theirs = blockOf.get(cand);
      if (!theirs || theirs === mine) continue;
      if (theirs.lastStep !== t.defStep || theirs.sizeBytes < mine.sizeBytes) continue;
      for (const [m, off] of mine.members) {
        theirs.members.set(m, off);
        blockOf.set(m, theirs);
      }
      theirs.lastStep = Math.max(theirs.lastStep, mine.lastStep);
      theirs.hasViews ||= mine.hasViews;
      inPlace.push({ tensor: t.name, reuses: cand });
      break;
    }
  }

  // 3. Place blocks: larger first; blocks holding views (concat outputs) first among equals.
  const blocks = [...new Set(blockOf.values())].map((b) => ({ ...b, sizeBytes: alignUp(b.sizeBytes) }));
  const order = [...blocks].sort(
    (a, b) => b.sizeBytes - a.sizeBytes || Number(b.hasViews) - Number(a.hasViews) || a.firstStep - b.firstStep,
  );
  const placed: { b: (typeof blocks)[number]; offsetBytes: number }[] = [];
  const offsetOfBlock = new Map<(typeof blocks)[number], number>();
  for (const b of order) {
    const live = placed
      .filter((p) => p.b.firstStep <= b.lastStep && b.firstStep <= p.b.lastStep)
      .sort((x, y) => x.offsetBytes - y.offsetBytes);
    let best = -1;
    let bestGap = Infinity;
    let cursor = 0;
    for (const p of live) {
      const gap = p.offsetBytes - cursor;
      if (gap >= b.sizeBytes && gap < bestGap) {
        best = cursor;
        bestGap = gap;
      }
      cursor = Math.max(cursor, p.offsetBytes + p.b.sizeBytes);
    }
    const offsetBytes = best >= 0 ? best : cursor;
    placed.push({ b, offsetBytes });
    offsetOfBlock.set(b, offsetBytes);
  }

  const offsets = new Map<string, number>();
  const planned: PlannedBlock[] = [];
  let arenaBytes = 0;
  for (const b of blocks) {
    const base = offsetOfBlock.get(b)!;
    for (const [m, off] of b.members) offsets.set(m, base + off);
    arenaBytes = Math.max(arenaBytes, base + b.sizeBytes);
    planned.push({
      offsetBytes: base,
      sizeBytes: b.sizeBytes,
      firstStep: b.firstStep,
      lastStep: b.lastStep,
      members: [...b.members.keys()],
    });
  }
  planned.sort((a, b) => a.offsetBytes - b.offsetBytes || a.firstStep - b.firstStep);
  return { offsets, blocks: planned, arenaBytes, lowerBoundBytes: lowerBound(planned), inPlace };
}

/** Peak over steps of the summed size of live blocks (a sweep over interval end points). */
export function lowerBound(blocks: readonly { sizeBytes: number; firstStep: number; lastStep: number }[]): number {
  const events: [number, number][] = [];
  for (const b of blocks) {
    events.push([b.firstStep, b.sizeBytes]);
    if (Number.isFinite(b.lastStep)) events.push([b.lastStep + 1, -b.sizeBytes]);
  }
  // At equal steps, ends (negative) come first: a block ending at s-1 and one starting at s do not overlap.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of events) {
    cur += d;
    peak = Math.max(peak, cur);
  }
  return peak;
}
