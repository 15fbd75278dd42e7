/** The shape of one CLI command module: `src/cli/<name>.ts` exports `command`. */
import type { FlagSpec } from './args.js';

export interface Command {
  name: string;
  synopsis: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** Returns the process exit code. Throws EdgecnnError for user errors. */
  run(positionals: string[], flags: import('./args.js').ParsedArgs): Promise<number>;
}
