/**
 * `edgecnn serve`: the browser demo (compile and run a model in the page on 1..N threads) from a local
 * server on 127.0.0.1 with the cross-origin isolation headers; `--no-isolation` leaves them out to show the
 * single-thread fallback. Runs until interrupted.
 */
import { EdgecnnError } from '../ir/errors.js';
import { startServer } from '../web/server.js';
import type { Command } from './command.js';

export const command: Command = {
  name: 'serve',
  synopsis: '[--port N] [--no-isolation]',
  summary: 'Serve the browser demo page (127.0.0.1) with COOP/COEP headers so threads work',
  flags: {
    port: { type: 'number', description: 'port (default 8080; 0 picks a free one)' },
    'no-isolation': { type: 'boolean', description: 'omit COOP/COEP: the page runs single-threaded and says why' },
  },
  async run(_positionals, flags) {
    const port = flags.flags.get('port');
    const p = port === undefined ? 8080 : Number(port);
    if (!Number.isInteger(p) || p < 0 || p > 65535) {
      throw new EdgecnnError(`--port must be a whole number from 0 to 65535, got ${String(port)}`, 'bad-argument');
    }
    const isolation = flags.flags.get('no-isolation') !== true;
    const s = await startServer({ port: p, isolation });
    console.log(
      `edgecnn demo at ${s.url} (${isolation ? 'cross-origin isolated: threads on' : 'no COOP/COEP: one thread'})`,
    );
    console.log('press Ctrl+C to stop');
    await new Promise<void>((resolveStop) => {
      process.once('SIGINT', () => resolveStop());
      process.once('SIGTERM', () => resolveStop());
    });
    await s.close();
    return 0;
  },
};
