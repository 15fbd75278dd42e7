/**
 * A small argument parser shared by every command: `--flag value`, `--flag=value`, boolean `--flag`,
 * positionals. Unknown flags are an error naming the flag, so typos never pass silently.
 */
import { EdgecnnError } from '../ir/errors.js';

export interface FlagSpec {
  /** 'boolean' flags take no value; others take exactly one. */
  type: 'boolean' | 'string' | 'number';
  /** May be given more than once (values collected in order). */
  multiple?: boolean;
  description: string;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | boolean | (string | boolean)[]>;
}

export function parseArgs(argv: readonly string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | boolean | (string | boolean)[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new EdgecnnError(`unknown option --${name}`, 'bad-argument');
    let value: string | boolean;
    if (s.type === 'boolean') {
      if (eq >= 0) throw new EdgecnnError(`option --${name} takes no value`, 'bad-argument');
      value = true;
    } else if (eq >= 0) {
      value = a.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new EdgecnnError(`option --${name} needs a value`, 'bad-argument');
      value = next;
      i++;
    }
    if (s.type === 'number' && typeof value === 'string' && !Number.isFinite(Number(value.replace(/%$/, '')))) {
      throw new EdgecnnError(`option --${name} needs a number, got '${value}'`, 'bad-argument');
    }
    if (s.multiple) {
      const prev = flags.get(name);
      flags.set(name, [...(Array.isArray(prev) ? prev : []), value]);
    } else {
      flags.set(name, value);
    }
  }
  return { positionals, flags };
}

export function flagString(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flagNumber(p: ParsedArgs, name: string): number | undefined {
  const v = flagString(p, name);
  return v === undefined ? undefined : Number(v.replace(/%$/, ''));
}

export function flagBool(p: ParsedArgs, name: string): boolean {
  return p.flags.get(name) === true;
}

export function flagList(p: ParsedArgs, name: string): string[] {
  const v = p.flags.get(name);
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.flatMap((x) => (typeof x === 'string' ? x.split(',').filter((s) => s !== '') : []));
}

/** Usage text for a command from its flag spec. */
export function usage(command: string, synopsis: string, spec: Record<string, FlagSpec>): string {
  const lines = [`usage: edgecnn ${command} ${synopsis}`, ''];
  for (const [name, s] of Object.entries(spec)) {
    const head = `  --${name}${s.type === 'boolean' ? '' : ' <' + s.type + '>'}`;
    // A flag wider than the column gets its own line, so the two never run together.
    lines.push(head.length < 28 ? head.padEnd(28) + s.description : `${head}\n${' '.repeat(28)}${s.description}`);
  }
  return lines.join('\n');
}
