#!/usr/bin/env node
/**
 * The edgecnn CLI: a thin dispatcher over the library. Each command lives in its own module and is loaded
 * only when used, so `edgecnn --help` stays fast. User errors print one clear line (no stack unless
 * --verbose) and exit non-zero.
 */
import { EdgecnnError } from '../ir/errors.js';
import { parseArgs, usage } from './args.js';
import type { Command } from './command.js';

/** Command name -> module path. The only list of commands. */
const COMMANDS: Record<string, string> = {
  bench: './bench.js',
  check: './check.js',
  conformance: './conformance.js',
  demo: './demo.js',
  eval: './eval.js',
  inspect: './inspect.js',
  optimize: './optimize.js',
  profile: './profile.js',
  quantize: './quantize.js',
  run: './run.js',
  serve: './serve.js',
  tune: './tune.js',
};

async function loadCommand(name: string): Promise<Command | undefined> {
  const path = COMMANDS[name];
  if (!path) return undefined;
  try {
    return ((await import(path)) as { command: Command }).command;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(path.slice(2))) {
      return undefined;
    }
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const name = args[0];
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      const lines = ['usage: edgecnn <command> [options]   (--verbose shows stack traces)', '', 'commands:'];
      for (const n of Object.keys(COMMANDS)) {
        const c = await loadCommand(n);
        if (c) lines.push(`  ${n.padEnd(13)}${c.summary}`);
      }
      console.log(lines.join('\n'));
      return name ? 0 : 2;
    }
    const cmd = await loadCommand(name);
    if (!cmd) throw new EdgecnnError(`unknown command '${name}' (see edgecnn --help)`, 'bad-argument');
    const rest = args.slice(1);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`${cmd.summary}\n\n${usage(cmd.name, cmd.synopsis, cmd.flags)}`);
      return 0;
    }
    const parsed = parseArgs(rest, cmd.flags);
    return await cmd.run(parsed.positionals, parsed);
  } catch (e) {
    if (verbose) console.error(e);
    if (e instanceof EdgecnnError) {
      console.error(`edgecnn: error: ${e.message}`);
      return e.code === 'bad-argument' ? 2 : 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`edgecnn: error: ${msg}${verbose ? '' : ' (run with --verbose for details)'}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
