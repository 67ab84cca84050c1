/** Worker-thread side of the campaign pool: runs jobs it is sent and posts their results. */
import { parentPort } from 'node:worker_threads';
import { setAutoFreeze } from 'immer';
import { runJob, type Job } from './jobs.ts';

setAutoFreeze(false);
parentPort?.on('message', (msg: { id: number; job: Job }) => {
  try {
    parentPort?.postMessage({ id: msg.id, ok: true, result: runJob(msg.job) });
  } catch (e) {
    parentPort?.postMessage({ id: msg.id, ok: false, error: (e as Error).stack ?? String(e) });
  }
});
