/**
 * The tuning database: records keyed by (device fingerprint, edgecnn version, kernel spec key) holding the
 * chosen kernel id and the measured median time of every candidate. Three stores share one in-memory map:
 * memory only, a JSON file in Node (default `$XDG_CACHE_HOME/edgecnn/tuning.json`, else
 * `~/.cache/edgecnn/tuning.json`), and a browser's localStorage. Saving a file merges with what another
 * process may have written meanwhile (ours win on the same key) and replaces the file atomically.
 */
import { EdgecnnError } from '../ir/errors.js';

/** One tuned kernel spec on one device. */
export interface TuningRecord {
  /** `DeviceFingerprint.id`. */
  device: string;
  edgecnnVersion: string;
  /** `KernelChoice.specKey`: what is computed, independent of the variant. */
  specKey: string;
  /** The kernel id to use. */
  variantId: string;
  /** What the cost model picks (the first candidate). */
  costModelId: string;
  /** Median time per run of each candidate measured, by kernel id. */
  timesMs: Record<string, number>;
  /** ISO time of the measurement. */
  tunedAt: string;
}

/** A set of tuning records, persisted somewhere by `save`. */
export interface TuningDb {
  /** Where the records persist: a file path, `localStorage:<key>`, or `memory`. */
  readonly location: string;
  get(device: string, edgecnnVersion: string, specKey: string): TuningRecord | undefined;
  put(record: TuningRecord): void;
  records(): TuningRecord[];
  save(): Promise<void>;
}

const FORMAT = 'edgecnn-tuning';
const FORMAT_VERSION = 1;

interface DbFile {
  format: typeof FORMAT;
  formatVersion: number;
  records: TuningRecord[];
}

const keyOf = (r: Pick<TuningRecord, 'device' | 'edgecnnVersion' | 'specKey'>): string =>
  `${r.device}\u0000${r.edgecnnVersion}\u0000${r.specKey}`;

function isRecord(x: unknown): x is TuningRecord {
  const r = x as TuningRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.device === 'string' &&
    typeof r.edgecnnVersion === 'string' &&
    typeof r.specKey === 'string' &&
    typeof r.variantId === 'string' &&
    typeof r.costModelId === 'string' &&
    typeof r.timesMs === 'object' &&
    r.timesMs !== null
  );
}

/** Parse a database's JSON text; `where` names it in errors. */
export function parseTuningDb(text: string, where: string): TuningRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new EdgecnnError(`tuning database ${where} is not JSON: ${(e as Error).message}`, 'bad-argument');
  }
  const f = data as DbFile;
  if (typeof f !== 'object' || f === null || f.format !== FORMAT || !Array.isArray(f.records)) {
    throw new EdgecnnError(
      `tuning database ${where} is not an edgecnn tuning file (format '${FORMAT}')`,
      'bad-argument',
    );
  }
  if (f.formatVersion !== FORMAT_VERSION) {
    throw new EdgecnnError(
      `tuning database ${where} has format version ${String(f.formatVersion)}, this edgecnn reads ${FORMAT_VERSION}`,
      'bad-argument',
    );
  }
  const bad = f.records.findIndex((r) => !isRecord(r));
  if (bad >= 0) throw new EdgecnnError(`tuning database ${where}: record ${bad} is malformed`, 'bad-argument');
  return f.records;
}

/** JSON text of a database (records sorted, so files diff well). */
export function serializeTuningDb(records: readonly TuningRecord[]): string {
  const sorted = [...records].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const f: DbFile = { format: FORMAT, formatVersion: FORMAT_VERSION, records: sorted };
  return JSON.stringify(f, null, 1) + '\n';
}

class MapDb implements TuningDb {
  protected readonly map = new Map<string, TuningRecord>();
  constructor(
    readonly location: string,
    records: readonly TuningRecord[],
    private readonly persist: (records: TuningRecord[]) => Promise<void>,
  ) {
    for (const r of records) this.map.set(keyOf(r), r);
  }
  get(device: string, edgecnnVersion: string, specKey: string): TuningRecord | undefined {
    return this.map.get(keyOf({ device, edgecnnVersion, specKey }));
  }
  put(record: TuningRecord): void {
    this.map.set(keyOf(record), record);
  }
  records(): TuningRecord[] {
    return [...this.map.values()];
  }
  save(): Promise<void> {
    return this.persist(this.records());
  }
}

/** A database that lives as long as the object (nothing persists). */
export function memoryTuningDb(records: readonly TuningRecord[] = []): TuningDb {
  return new MapDb('memory', records, async () => {});
}

/** The minimal part of the Web Storage API the database uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A database in a browser's localStorage (or any Web Storage) under `key`. */
export function storageTuningDb(storage: KeyValueStorage, key = 'edgecnn-tuning'): TuningDb {
  const where = `localStorage:${key}`;
  const text = storage.getItem(key);
  const records = text === null ? [] : parseTuningDb(text, where);
  return new MapDb(where, records, async (rs) => storage.setItem(key, serializeTuningDb(rs)));
}

const isNode = (): boolean =>
  Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);

/** `$XDG_CACHE_HOME/edgecnn/tuning.json`, else `~/.cache/edgecnn/tuning.json` (Node only). */
export async function defaultTuningDbPath(): Promise<string> {
  const [{ homedir }, { join }] = await Promise.all([import('node:os'), import('node:path')]);
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'edgecnn', 'tuning.json');
}

/** A database in a JSON file (Node); a missing file is an empty database, created on `save`. */
export async function fileTuningDb(path: string): Promise<TuningDb> {
  const fs = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const read = async (): Promise<TuningRecord[]> => {
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw new EdgecnnError(`cannot read tuning database ${path}: ${(e as Error).message}`, 'bad-argument');
    }
    return parseTuningDb(text, path);
  };
  return new MapDb(path, await read(), async (ours) => {
    // Another process may have tuned other specs since we loaded: keep theirs, ours win on the same key.
    const merged = new Map<string, TuningRecord>();
    for (const r of await read()) merged.set(keyOf(r), r);
    for (const r of ours) merged.set(keyOf(r), r);
    await fs.mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await fs.writeFile(tmp, serializeTuningDb([...merged.values()]));
    await fs.rename(tmp, path);
  });
}

/**
 * The default database: in Node the JSON file `path` (default `defaultTuningDbPath()`); in a browser
 * localStorage when the page has it, else memory.
 */
export async function openTuningDb(path?: string): Promise<TuningDb> {
  if (isNode()) return fileTuningDb(path ?? (await defaultTuningDbPath()));
  const storage = (globalThis as { localStorage?: KeyValueStorage }).localStorage;
  return storage ? storageTuningDb(storage) : memoryTuningDb();
}
