/**
 * A small worker-thread pool for campaigns (node:worker_threads, no dependency): jobs are plain JSON, each
 * result lands at its job's index, so the output is the same whatever the number of workers.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { runJob, type Job, type JobResult } from './jobs.ts';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/**
 * The script a worker thread starts with, beside the code that asks for it. Run from the TypeScript sources
 * (tsx, vitest: this module's URL ends in `.ts`), a new thread has no loader yet: bin/worker.js registers tsx and
 * then imports src/cli/worker.ts. Run from the compiled package (dist/src/cli/pool.js, no tsx installed), the
 * thread loads the compiled dist/src/cli/worker.js beside this file directly.
 */
export function workerEntry(moduleUrl: string): URL {
  return new URL(moduleUrl).pathname.endsWith('.ts') ? new URL('../../bin/worker.js', moduleUrl) : new URL('./worker.js', moduleUrl);
}

/**
 * Runs `jobs` on `workers` threads (1: in this thread). `onDone(done, total, result, index)` after each job, in
 * the order they finish (progress: src/cli/progress.ts); `inOrder(i, result)` once per job in job order, as soon
 * as it and every job before it are done (rows can stream in a fixed order).
 */
export async function runPool(jobs: readonly Job[], workers: number, onDone?: (done: number, total: number, result: JobResult, index: number) => void,
  inOrder?: (index: number, result: JobResult) => void): Promise<JobResult[]> {
  const results = new Array<JobResult>(jobs.length);
  let emitted = 0;
  const emit = (): void => {
    while (emitted < jobs.length && results[emitted] !== undefined) { inOrder?.(emitted, results[emitted] as JobResult); emitted++; }
  };
  const n = Math.min(workers, jobs.length);
  if (n <= 1) {
    jobs.forEach((j, i) => { const r = runJob(j); results[i] = r; onDone?.(i + 1, jobs.length, r, i); emit(); });
    return results;
  }
  let next = 0;
  let done = 0;
  const url = workerEntry(import.meta.url);
  await new Promise<void>((resolve, reject) => {
    const pool: Worker[] = [];
    const fail = (e: unknown): void => { for (const w of pool) void w.terminate(); reject(e); };
    const feed = (w: Worker): void => {
      if (next >= jobs.length) { void w.terminate(); return; }
      const id = next++;
      w.postMessage({ id, job: jobs[id] });
    };
    for (let k = 0; k < n; k++) {
      const w = new Worker(url);
      pool.push(w);
      w.on('message', (m: { id: number; ok: boolean; result?: JobResult; error?: string }) => {
        if (!m.ok) { fail(new Error(`worker failed on job ${m.id}: ${m.error}`)); return; }
        results[m.id] = m.result!;
        done++;
        onDone?.(done, jobs.length, m.result!, m.id);
        try { emit(); } catch (e) { fail(e); return; }
        if (done === jobs.length) { for (const p of pool) void p.terminate(); resolve(); return; }
        feed(w);
      });
      w.on('error', fail);
      feed(w);
    }
  });
  return results;
}
