/**
 * Goal: every `--json` output of the CLI validates against the shipped schema of its command
 * (schemas/output-<command>.schema.json), and every trace a command writes validates against the trace schema and
 * names it in `$schema`. One small run of each command and each output shape (tiny budgets): check (clean, failing,
 * sharded and merged), bugs, explore (one design, a counterexample, --matrix, --proof, --reach: reached and not), compare, run, replay,
 * bisect (violated, ok, rejected), shrink.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { JsonCommand } from '../src/cli/schemas.ts';
import { traceSchemaId, TRACE_VERSION } from '../src/trace/format.ts';
import { validateOutput, validateTrace } from './support/schemas.ts';

const ROOT = new URL('../', import.meta.url).pathname;

function dtsim(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, DTSIM_SEED: 'schema-cli' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--json outputs and written traces validate against the shipped schemas', () => {
  it('every command, every output shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-schema-'));
    try {
      const reg = (f: string): string => join(ROOT, 'traces/regressions', f);
      // a trace whose first event is not enabled (bisect's 'rejected' answer)
      const notEnabled = readFileSync(reg('dirty-bitmap-correct.json'), 'utf8').replace(/\{"type":"[^"]+"[^}]*\}/, '{"type":"vmm/migrationCompleted"}');
      writeFileSync(join(dir, 'not-enabled.json'), notEnabled);
      mkdirSync(join(dir, 'shards'));
      const runs: { command: JsonCommand; args: string[]; codes: number[]; traces?: string[] }[] = [
        { command: 'check', args: ['check', '--model', 'dirty-bitmap', '--runs', '1', '--events', '30', '--workers', '1', '--out-dir', join(dir, 'f0')], codes: [0] },
        { command: 'check', args: ['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--runs', '3', '--events', '60', '--workers', '1', '--out-dir', join(dir, 'f1')], codes: [1] },
        { command: 'bugs', args: ['bugs', '--model', 'dirty-bitmap', '--runs', '2', '--out-dir', join(dir, 'b')], codes: [0, 1, 4] },
        { command: 'explore', args: ['explore', '--model', 'dirty-bitmap', '--depth', '5'], codes: [0] },
        { command: 'explore', args: ['explore', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--depth', '40', '--max-states', '20000', '--out', join(dir, 'cx.json')], codes: [1], traces: [join(dir, 'cx.json')] },
        { command: 'explore', args: ['explore', '--matrix', '--model', 'dirty-ring', '--depth', '3', '--workers', '1'], codes: [0, 4] },
        { command: 'explore', args: ['explore', '--proof', '--model', 'pta', '--depth', '2', '--workers', '1'], codes: [4] },
        { command: 'explore', args: ['explore', '--model', 'dirty-bitmap', '--pages', '1', '--reach', 'vmm.phase == "done"', '--encoding', 'auto', '--out', join(dir, 'reach.json')], codes: [0], traces: [join(dir, 'reach.json')] },
        { command: 'explore', args: ['explore', '--model', 'dirty-bitmap', '--depth', '3', '--reach', 'vmm.phase == "done"', '--encoding', 'auto'], codes: [5] },
        { command: 'compare', args: ['compare', '--model', 'dirty-bitmap', '--model', 'hdbss', '--runs', '1', '--events', '20', '--pages', '8'], codes: [0] },
        { command: 'run', args: ['run', '--model', 'dirty-ring', '--seed', 's1', '--events', '50', '--out', join(dir, 'run.json')], codes: [0], traces: [join(dir, 'run.json')] },
        { command: 'replay', args: ['replay', reg('dirty-bitmap-missing-tlbi.json')], codes: [0] },
        { command: 'replay', args: ['replay', join(ROOT, 'traces/fixtures/trace.v1.sample.json')], codes: [0] },
        { command: 'bisect', args: ['bisect', reg('dirty-bitmap-missing-tlbi.json')], codes: [1] },
        { command: 'bisect', args: ['bisect', reg('dirty-bitmap-correct.json')], codes: [0] },
        { command: 'bisect', args: ['bisect', join(dir, 'not-enabled.json')], codes: [1] },
        { command: 'shrink', args: ['shrink', reg('dirty-bitmap-missing-tlbi.json'), '--out', join(dir, 'shrunk.json')], codes: [0], traces: [join(dir, 'shrunk.json')] },
      ];
      const shapes = new Set<string>();
      const bad: string[] = [];
      for (const r of runs) {
        const o = dtsim([...r.args, '--json']);
        const what = `dtsim ${r.args.join(' ')} --json`;
        expect(r.codes, `${what}: exit ${o.code}: ${o.stderr}`).toContain(o.code);
        const doc = JSON.parse(o.stdout) as { command: string; status?: string; matrix?: boolean; proof?: boolean };
        expect(doc.command).toBe(r.command);
        shapes.add(`${r.command}${doc.matrix ? (doc.proof ? ' --proof' : ' --matrix') : ''}${(doc as { reach?: unknown }).reach ? ' --reach' : ''}${r.command === 'bisect' ? ` ${doc.status}` : ''}`);
        const errs = validateOutput(r.command, doc);
        if (errs.length) bad.push(`${what}: ${errs.join('; ')}`);
        for (const t of r.traces ?? []) {
          const td = JSON.parse(readFileSync(t, 'utf8')) as { $schema?: string };
          const te = validateTrace(td);
          if (te.length) bad.push(`${t}: ${te.join('; ')}`);
          if (td.$schema !== traceSchemaId(TRACE_VERSION)) bad.push(`${t}: $schema ${String(td.$schema)}`);
        }
      }
      // check --shard i/n into one folder, then --merge
      for (const s of ['0/2', '1/2']) {
        const o = dtsim(['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--runs', '2', '--events', '60', '--workers', '1', '--shard', s, '--out-dir', join(dir, 'f2'), '--json']);
        writeFileSync(join(dir, 'shards', `${s.replace('/', '-')}.json`), o.stdout);
        const errs = validateOutput('check', JSON.parse(o.stdout));
        if (errs.length) bad.push(`check --shard ${s}: ${errs.join('; ')}`);
      }
      const m = dtsim(['check', '--merge', join(dir, 'shards'), '--json']);
      const me = validateOutput('check', JSON.parse(m.stdout));
      if (me.length) bad.push(`check --merge: ${me.join('; ')}`);
      // traces saved by check (failures, shrunk) and bugs
      for (const sub of ['f1', 'f2', 'b']) {
        const files = readdirSync(join(dir, sub)).filter((n) => n.endsWith('.json'));
        expect(files.length, sub).toBeGreaterThan(0);
        for (const f of files) {
          const td = JSON.parse(readFileSync(join(dir, sub, f), 'utf8')) as { $schema?: string };
          const te = validateTrace(td);
          if (te.length) bad.push(`${sub}/${f}: ${te.join('; ')}`);
          if (td.$schema !== traceSchemaId(TRACE_VERSION)) bad.push(`${sub}/${f}: $schema ${String(td.$schema)}`);
        }
      }
      expect(bad).toEqual([]);
      expect([...shapes].sort()).toEqual(['bisect ok', 'bisect rejected', 'bisect violated', 'bugs', 'check', 'compare', 'explore', 'explore --matrix', 'explore --proof', 'explore --reach', 'replay', 'run', 'shrink']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
