/**
 * A pool worker for tests that says it is ready and then exits without ever running a chunk: the case the
 * barrier timeout exists for (a worker that died while the caller waits for its chunks).
 */
import { parentPort } from 'node:worker_threads';

parentPort?.once('message', (m: { id: number }) => parentPort?.postMessage({ type: 'ready', id: m.id }));
