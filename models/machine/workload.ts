/**
 * The machine's side of `dtsim compare` at scale (`Model.workload`, src/core/model.ts): a seeded workload driver
 * that runs a pre-copy migration of a guest of millions of pages with tens of vCPUs at a per-event cost that
 * does not grow with the guest, the design variants worth comparing (ring sizes, HDBSS buffer sizes, PTA device
 * capacities) and the models' metrics under the comparison's common names.
 *
 * Why a driver of its own. The seeded scheduler (`simulate`, src/core/engine.ts) builds the whole enabled set at
 * every step, and the machine enables one `guest/storeIssued` per store page and vCPU: O(guest pages) per event.
 * The driver asks the machine for the enabled set without the per-page kinds (`candidates(s, false)`) and makes
 * the store of a vCPU itself, to a page drawn from the workload's pattern (`WorkloadSpec.pattern`) with its own
 * seeded stream. Every event it returns is enabled (`isEnabled` is the one precondition), so a run is an ordinary
 * trace of the model; nothing the model checks is bypassed.
 *
 * Simulated time (docs/compare.md says the same). The machine has agents: one lane per vCPU (`vcpuN`), per PE
 * (`peN`: TLB evictions), the VMM (`vmm`: ioctls, copies, ring harvests) and the host (`host`: device and
 * tracking work with no vCPU). Each lane has a clock; at every step the lane with enabled events whose clock is
 * earliest acts (ties: vCPUs, then PEs, VMM, host, each in index order), and its clock advances by the cost of
 * the event it took (`COST_NS`, or for a store `1e9 / storesPerSec`, for a page copy `4096 / bandwidth`, for a
 * collection step a fixed cost plus `HARVEST_NS` per unit of harvest work and `TLBI_NS` per TLBI it issued). A
 * lane that had nothing enabled (a vCPU held out of the guest by a full ring) resumes at the current time: the
 * wait is simulated time too. The run's clock is the time of the last event taken. A vCPU in the guest stores
 * until its timer tick (every `TICK_NS`), then exits; the VMM starts a pre-copy collection at most every
 * `intervalMs` (and only once its copy set is empty: the machine's conforming VMM copies, then collects), and
 * stops the VM after `rounds` collections; downtime is the simulated time from the stop to the completion.
 */
import type { WorkloadDriver, WorkloadHook, WorkloadSpec, WorkloadVariant } from '../../src/core/model.ts';
import { stream, type Prng } from '../../src/random/streams.ts';
import { candidates, storeCanRetire } from './machine.ts';
import { newEnabledMemo, peAgent, VMM_HOST } from './mechanisms.ts';
import type { MachineEvent } from './model-events.ts';
import { pget } from './paged.ts';
import type { MachineConfig, MachineState } from './state.ts';
import { WEIGHTS } from './model.ts';
import { mechanismsOf } from './selected.ts';

/** Fixed simulated cost of an event kind, in ns (kinds not listed: `DEFAULT_COST_NS`). Stores and copies: see above. */
export const COST_NS: { readonly [type: string]: number } = {
  'guest/storeRetired': 0, 'guest/storeFaulted': 0,
  // A stage-2 write fault under dirty logging: the exit, the fault handler (map writable, mark dirty), the entry.
  'kvm/faultMapped': 1500, 'kvm/faultMarked': 500,
  'vcpu/exited': 1000, 'vcpu/entered': 500, 'vcpu/loaded': 3000, 'vcpu/put': 3000, 'host/stolenTimeWritten': 300,
  // Exits to userspace: a full ring (the vCPU thread waits for the reaper), a full HDBSS buffer (drained in KVM).
  'vcpu/ringFullExited': 5000, 'hdbss/fullFaulted': 2000, 'hdbss/bufferDrained': 2000, 'kvm/hdbssFaultHandled': 1000,
  'pta/cpuLogRead': 1000, 'pta/recordPublished': 100,
  // Hardware noise: one TLB eviction per PE per 100 us.
  'pe/tlbEvicted': 100_000,
};
export const DEFAULT_COST_NS = 1000;
/** Per unit of harvest work (a 64-bit bitmap word, a ring entry, a device record, a buffer entry) read by the VMM or KVM. */
export const HARVEST_NS = 20;
/** Per TLBI a VMM step issued (broadcast invalidation and its DSB). */
export const TLBI_NS = 2000;
/** A vCPU's timer tick: it leaves the guest (and re-enters) this often. */
export const TICK_NS = 4_000_000;
/** Bytes of one page on the migration link. */
export const PAGE_BYTES = 4096;

/** Harvest work so far: bitmap words, ring entries, PTA records and HDBSS entries read (the model's counters). */
function harvestWorkOf(stats: { readonly [k: string]: number | undefined }): number {
  return (stats['bitmapWordsRead'] ?? 0) + (stats['ringHarvested'] ?? 0) + (stats['ptaRecords'] ?? 0) + (stats['hdbssEntries'] ?? 0);
}

/** The design variants per model id: the sizes the issue asks about (ring entries, HDBSS buffer, PTA capacity). */
const VARIANTS: { readonly [model: string]: readonly WorkloadVariant[] } = {
  'dirty-bitmap': [
    { label: 'bitmap', options: {} },
    { label: 'bitmap-manual', options: { manualProtect: true } },
  ],
  'dirty-ring': [
    { label: 'ring-4096', options: { ringEntries: 4096, ringWithBitmap: false } },
    { label: 'ring-65536', options: { ringEntries: 65536, ringWithBitmap: false } },
  ],
  // HDBSS buffer: 512 << hdbssSz entries of 8 bytes (sz 0: 4 KiB, sz 3: 32 KiB).
  hdbss: [
    { label: 'hdbss-512', options: { hdbssEntries: 0, hdbssSz: 0 } },
    { label: 'hdbss-4096', options: { hdbssEntries: 0, hdbssSz: 3 } },
  ],
  // PTA device storage in records (0: unbounded).
  pta: [
    { label: 'pta-4096', options: { deviceRecords: 4096 } },
    { label: 'pta-unbounded', options: { deviceRecords: 0 } },
  ],
};

/** The machine configuration of a workload: one memslot, one PE per vCPU, the VMM's rounds. */
export function workloadConfig(spec: WorkloadSpec): MachineConfig {
  return {
    vcpus: spec.vcpus, pes: spec.vcpus, slots: [{ base: 0, npages: spec.pages }], blocks: false, tlbEntries: 16,
    stolenTime: true, itsPages: [spec.pages - 1], rounds: spec.rounds, storePages: [],
  };
}

/**
 * Event kinds a workload never takes: the adversarial and housekeeping interleavings the checker explores (MMU
 * notifier unmaps, access-flag aging, page-table walks of the scan producer, VMID roll-over, external aborts
 * of HDBSS writes, a userspace that rewrites ring entries). A migration at scale meets them rarely; `dtsim
 * check` and `explore` are where they are searched.
 */
const NOT_WORKLOAD: ReadonlySet<string> = new Set([
  'mmu/accessTracked', 'mmu/rangeUnmapped', 'kvm/pteAged', 'kvm/pteRead', 'kvm/pteWritten', 'kvm/readFaultMapped',
  'kvm/vmidRolledOver', 'hdbss/appendAborted', 'ring/entryRewritten', 'ring/entrySlotRewritten', 'kvm/softFullRequestCleared',
]);

const VMM_RANK: { readonly [type: string]: number } = {
  'kvm/ioctlTlbiIssued': 0, 'kvm/switchTlbiIssued': 0, 'kvm/ioctlReturned': 0, 'kvm/loggingEnabled': 1, 'vmm/pageCopied': 3, 'host/itsTableSaved': 4,
  'vmm/vmStopped': 5, 'vmm/migrationCompleted': 6,
};

/**
 * Is vCPU `v` out of every PE and unable to be loaded (the VM is stopping, or a mechanism's `canLoad` refuses it,
 * e.g. a full dirty ring waiting for the reaper)? Then its lane has no event: the only events of a vCPU out of
 * its PE are its loads (workload.test.ts holds the machine and every mechanism to it). The workload passes over
 * such a lane without building it, which matters when 16 vCPUs wait out a whole bulk copy.
 */
export function outAndHeld(s: MachineState, v: number): boolean {
  const vc = s.vcpus[v]!;
  if (vc.run !== 'out') return false;
  if (s.vmm.phase !== 'idle' && s.vmm.phase !== 'precopy') return true;
  for (const m of mechanismsOf(s)) if (m.canLoad && !m.canLoad(s, v)) return true;
  return false;
}

class MachineWorkload implements WorkloadDriver<MachineState, MachineEvent> {
  private readonly spec: WorkloadSpec;
  private readonly rng: Prng;
  private readonly lanes: number;
  /** Per lane: the simulated time at which it may act next. */
  private readonly at: Float64Array;
  private readonly tick: Float64Array;
  private readonly cursor: Float64Array;
  /** Scratch of `next` (one allocation per driver, not per step): lanes with events, each candidate's lane, the acting lane's events. */
  private readonly has: Uint8Array;
  private readonly laneOfEv: number[] = [];
  private readonly mine: MachineEvent[] = [];
  private clock = 0;
  private roundStartAt = -Infinity;
  private inRound = false;
  private lastRound = 0;
  private stoppedAt = -1;
  private doneAt = -1;
  private sent = 0;
  private resent = 0;
  private readonly agents: { [k: string]: number }[];

  constructor(s: MachineState, spec: WorkloadSpec, seed: string) {
    this.spec = spec;
    this.rng = stream(seed, 'workload');
    const v = s.vcpus.length;
    this.lanes = v + s.pes.length + 2;
    this.at = new Float64Array(this.lanes);
    this.tick = new Float64Array(v);
    this.cursor = new Float64Array(v);
    const share = Math.max(1, Math.floor(spec.workingSet / v));
    for (let i = 0; i < v; i++) {
      // Timer ticks staggered over one period, so the vCPUs do not all exit at once.
      this.tick[i] = ((i + 1) * TICK_NS) / v;
      this.cursor[i] = (i * share) % Math.max(1, spec.workingSet);
    }
    this.has = new Uint8Array(this.lanes);
    this.agents = Array.from({ length: v }, () => ({ timerExits: 0, writeFaults: 0, ringFullExits: 0, hdbssFullFaults: 0 }));
  }

  /**
   * The lane of an event: the index form of `lane` (events.ts), which it mirrors (vCPUs 0..V-1, PEs V..V+P-1, the
   * VMM, the host), without building the lane's name for every candidate of every step.
   */
  private laneIndex(s: MachineState, e: MachineEvent): number {
    const t = e.type;
    const nv = s.vcpus.length;
    const vmm = nv + s.pes.length;
    if (t.startsWith('ring/') || t === 'kvm/softFullRequestCleared') return vmm;
    const r = e as unknown as { vcpu?: unknown; pe?: unknown };
    if (typeof r.vcpu === 'number') return r.vcpu;
    if (typeof r.pe === 'number') return nv + r.pe;
    return t.startsWith('vmm/') || t.startsWith('kvm/') ? vmm : vmm + 1;
  }

  private storeGfn(vi: number, nv: number): number {
    const ws = Math.max(1, Math.min(this.spec.workingSet, this.spec.pages));
    switch (this.spec.pattern) {
      case 'uniform': return this.rng.int(ws);
      case 'hot': {
        const hot = Math.max(1, Math.floor(ws / 10));
        return this.rng.next() < 0.9 ? this.rng.int(hot) : this.rng.int(ws);
      }
      case 'sequential': {
        const share = Math.max(1, Math.floor(ws / nv));
        const base = (vi * share) % ws;
        const c = this.cursor[vi] as number;
        const g = c;
        const nxt = c + 1 >= Math.min(ws, base + share) ? base : c + 1;
        this.cursor[vi] = nxt;
        return g;
      }
      default: {
        const never: never = this.spec.pattern;
        throw new Error(`[dtsim] unknown store pattern ${String(never)}`);
      }
    }
  }

  /**
   * The next event: the earliest lane with an enabled event acts (ties: the lower lane index; the VMM's collection
   * held back until the collection interval is up when it would start a new pre-copy round). Only the candidates
   * of the VMM's and the host's lanes (`EnabledMemo.agent` `VMM_HOST`) are built at every step; a vCPU's own are
   * built only when it acts and its choice needs them (`vcpuStep`), a PE's only when it acts (a PE's lane has
   * events only while its TLB holds an entry: its evictions; workload.test.ts holds the machine to it), so a step
   * costs O(1) in the vCPUs and PEs (a scan of the lane clocks aside), not the whole enabled set. The choice, and
   * the stream of random draws, are those of building the whole set: a lane's events come in the order the whole
   * set lists them.
   */
  next(s: MachineState): MachineEvent | null {
    if (s.vmm.phase === 'done') return null;
    const nv = s.vcpus.length;
    const vmmLane = nv + s.pes.length;
    const stopping = s.vmm.phase !== 'precopy' && s.vmm.phase !== 'idle';
    const intervalEnd = this.roundStartAt + this.spec.intervalMs * 1e6;
    const memo = newEnabledMemo(VMM_HOST);
    const shared = candidates(s, false, memo);
    const laneOfEv = this.laneOfEv;
    laneOfEv.length = shared.length;
    const has = this.has;
    has.fill(0, vmmLane);
    let vmmOnlyCollect = true;
    for (let i = 0; i < shared.length; i++) {
      const e = shared[i] as MachineEvent;
      if (NOT_WORKLOAD.has(e.type)) { laneOfEv[i] = -1; continue; }
      const l = this.laneIndex(s, e);
      laneOfEv[i] = l;
      has[l] = 1;
      if (l === vmmLane && (e.type === 'vmm/pageCopied' || e.type === 'kvm/ioctlReturned' || e.type === 'kvm/ioctlTlbiIssued'
        || e.type === 'kvm/loggingEnabled')) vmmOnlyCollect = false;
    }
    // vCPU lanes: one in the guest always has an event (a store, or its exit); one out of its PE that cannot be
    // loaded has none (`outAndHeld`: e.g. waiting for the ring reaper, every step of a bulk copy); the others are
    // built when tried.
    for (let v = 0; v < nv; v++) has[v] = outAndHeld(s, v) ? 0 : 1;
    for (let p = 0; p < s.pes.length; p++) has[nv + p] = s.pes[p]!.tlb.length > 0 ? 1 : 0;
    // The VMM's canonical collection step (computed by the filter: enabled iff it is among the candidates), held
    // back until the collection interval is up when it would start a new pre-copy round.
    const step = memo.collect ?? null;
    const stepOk = step !== null && shared.includes(step);
    const gated = stepOk && !this.inRound && !stopping && this.clock < intervalEnd;
    const mine = this.mine;
    for (;;) {
      let best = -1;
      let bestAt = Infinity;
      for (let l = 0; l < this.lanes; l++) {
        if (has[l] === 0) continue;
        let t = Math.max(this.at[l] as number, this.clock);
        if (l === vmmLane && gated && vmmOnlyCollect) t = Math.max(t, intervalEnd);
        if (t < bestAt) { bestAt = t; best = l; }
      }
      if (best < 0) return null;
      let e: MachineEvent | null;
      if (best < nv) {
        const v = s.vcpus[best]!;
        let forced: MachineEvent | null = null;
        if (v.run === 'guest' && v.store < 0 && !stopping && bestAt < (this.tick[best] as number)) {
          // It stores until its timer tick (`vcpuStep`): the store needs no candidates.
          forced = { type: 'guest/storeIssued', vcpu: best, gfn: this.storeGfn(best, nv) };
        } else if (v.run === 'guest' && v.store >= 0 && storeCanRetire(s, v, v.store)) {
          // Its pending store retires through a writable TLB entry or descriptor: neither a fault nor a hardware
          // update is enabled, and `vcpuStep` leaves a timer exit for when the store is done.
          forced = { type: 'guest/storeRetired', vcpu: best, gfn: v.store };
        }
        if (forced !== null) {
          this.clock = bestAt;
          this.account(s, best, forced);
          return forced;
        }
        mine.length = 0;
        for (const x of candidates(s, false, newEnabledMemo(best))) if (!NOT_WORKLOAD.has(x.type) && this.laneIndex(s, x) === best) mine.push(x);
        if (mine.length === 0 && !(v.run === 'guest' && v.store < 0)) { has[best] = 0; continue; }
        this.clock = bestAt;
        e = this.vcpuStep(s, best, stopping, mine);
      } else {
        mine.length = 0;
        if (best < vmmLane) {
          for (const x of candidates(s, false, newEnabledMemo(peAgent(best - nv)))) if (!NOT_WORKLOAD.has(x.type) && this.laneIndex(s, x) === best) mine.push(x);
        } else for (let i = 0; i < shared.length; i++) if (laneOfEv[i] === best) mine.push(shared[i] as MachineEvent);
        if (mine.length === 0) { has[best] = 0; continue; }
        this.clock = bestAt;
        e = best === vmmLane ? this.vmmStep(mine, stepOk && !(gated && this.clock < intervalEnd) ? step : null) : this.pick(mine);
      }
      if (e === null) { this.at[best] = this.clock + DEFAULT_COST_NS; return this.next(s); }
      this.account(s, best, e);
      return e;
    }
  }

  private vcpuStep(s: MachineState, vi: number, stopping: boolean, mine: readonly MachineEvent[]): MachineEvent | null {
    const v = s.vcpus[vi]!;
    if (v.run === 'guest' && v.store < 0) {
      // Stop: every vCPU leaves the guest; otherwise it stores until its timer tick.
      const exit = mine.find((e) => e.type === 'vcpu/exited');
      if (exit && (stopping || this.clock >= (this.tick[vi] as number))) {
        this.tick[vi] = this.clock + TICK_NS;
        this.agents[vi]!['timerExits']!++;
        return exit;
      }
      if (stopping) return this.pick(mine);
      return { type: 'guest/storeIssued', vcpu: vi, gfn: this.storeGfn(vi, s.vcpus.length) };
    }
    if (v.run === 'out') {
      // Each vCPU has its own PE (vCPU i on PE i); another free one if that one is taken.
      const own = mine.find((e) => e.type === 'vcpu/loaded' && e.pe === vi % s.pes.length);
      if (own) return own;
    }
    // Preemption (put) and a timer exit with a store pending are left to when nothing else can happen.
    const rest = mine.filter((e) => e.type !== 'vcpu/put' && e.type !== 'vcpu/exited');
    return this.pick(rest.length > 0 ? rest : mine);
  }

  private vmmStep(mine: readonly MachineEvent[], step: MachineEvent | null): MachineEvent | null {
    let best: MachineEvent | null = null;
    let rank = 99;
    for (const e of mine) {
      const r = VMM_RANK[e.type];
      if (r !== undefined && r < rank) { best = e; rank = r; }
    }
    if (step !== null && rank > 2) return step;
    if (best !== null) return best;
    // Non-canonical interleavings (another ring first, a reset cut short by a signal) are not a workload's choice.
    return null;
  }

  private pick(es: readonly MachineEvent[]): MachineEvent | null {
    if (es.length === 0) return null;
    if (es.length === 1) return es[0] as MachineEvent;
    let total = 0;
    for (const e of es) total += WEIGHTS[e.type] ?? 5;
    let r = this.rng.next() * total;
    for (const e of es) { r -= WEIGHTS[e.type] ?? 5; if (r < 0) return e; }
    return es[es.length - 1] as MachineEvent;
  }

  /** Advances the acting lane's clock by the event's cost and keeps the per-vCPU and run-level counts. */
  private account(s: MachineState, l: number, e: MachineEvent): void {
    let cost: number;
    switch (e.type) {
      case 'guest/storeIssued': cost = 1e9 / this.spec.storesPerSec; break;
      case 'vmm/pageCopied':
        cost = (PAGE_BYTES * 1000) / this.spec.bandwidthMBps;
        this.sent++;
        if (pget(s.oracle.copied, e.gfn) >= 0) this.resent++;
        break;
      case 'vmm/vmStopped': cost = DEFAULT_COST_NS; this.stoppedAt = this.clock; break;
      case 'vmm/migrationCompleted': cost = 0; this.doneAt = this.clock; break;
      default: cost = COST_NS[e.type] ?? DEFAULT_COST_NS;
    }
    const ev = e as unknown as { vcpu?: number };
    if (typeof ev.vcpu === 'number' && this.agents[ev.vcpu]) {
      const a = this.agents[ev.vcpu]!;
      if (e.type === 'kvm/faultMarked') a['writeFaults']!++;
      else if (e.type === 'vcpu/ringFullExited') a['ringFullExits']!++;
      else if (e.type === 'hdbss/fullFaulted') a['hdbssFullFaults']!++;
    }
    if (l === s.vcpus.length + s.pes.length) {
      // VMM collection work: its cost depends on what the step reads and flushes, known after it is applied; the
      // lane's clock takes the fixed part now and `settle` adds the rest.
      this.pendingVmm = { work: harvestWorkOf(s.stats), tlbi: s.stats.tlbi, round: s.vmm.round, step: e };
    } else this.pendingVmm = null;
    this.at[l] = this.clock + cost;
  }

  private pendingVmm: { work: number; tlbi: number; round: number; step: MachineEvent } | null = null;

  /** Called after the event `next` returned was applied (the runner does it): the VMM's variable costs, round starts. */
  settle(s: MachineState): void {
    const p = this.pendingVmm;
    if (p === null) return;
    const l = s.vcpus.length + s.pes.length;
    const extra = (harvestWorkOf(s.stats) - p.work) * HARVEST_NS + (s.stats.tlbi - p.tlbi) * TLBI_NS;
    this.at[l] = (this.at[l] as number) + extra;
    const isCollect = p.step.type !== 'vmm/pageCopied' && VMM_RANK[p.step.type] === undefined;
    if (isCollect && !this.inRound) { this.inRound = true; this.roundStartAt = this.clock; }
    if (s.vmm.round !== this.lastRound) { this.lastRound = s.vmm.round; this.inRound = false; }
    this.pendingVmm = null;
  }

  clockNs(): number {
    return this.clock;
  }

  perAgent(): { readonly [agent: string]: { readonly [k: string]: number } } {
    const out: { [k: string]: { [k: string]: number } } = {};
    this.agents.forEach((a, i) => { out[`vcpu${i}`] = { ...a }; });
    return out;
  }

  figures(): { readonly [k: string]: number } {
    return {
      simMs: this.clock / 1e6,
      downtimeMs: this.stoppedAt >= 0 && this.doneAt >= 0 ? (this.doneAt - this.stoppedAt) / 1e6 : -1,
      stopAtMs: this.stoppedAt / 1e6,
      pagesSent: this.sent, pagesResent: this.resent,
    };
  }
}

/** The workload hook of a machine model (`Model.workload`), by model id. */
export function machineWorkload(modelId: string): WorkloadHook<MachineState, MachineEvent, MachineConfig> {
  return {
    config: workloadConfig,
    variants: VARIANTS[modelId] ?? [{ label: modelId, options: {} }],
    start: (s, spec, seed) => {
      const d = new MachineWorkload(s, spec, seed);
      // The runner calls `next`, applies the event, then reads the clock; settling the previous step's
      // variable cost at the next call keeps the driver interface to `next` alone.
      return {
        next: (st) => { d.settle(st); return d.next(st); },
        clockNs: () => d.clockNs(),
        perAgent: () => d.perAgent(),
        figures: () => d.figures(),
      };
    },
    measures: (m) => {
      const g = (...ks: string[]): number => ks.reduce((a, k) => a + (m[k] ?? 0), 0);
      return {
        harvestWork: g('bitmapWordsRead', 'ringHarvested', 'ptaRecords', 'hdbssEntries'),
        reports: g('reports'), unjustified: g('unjustified'), duplicates: g('ringDuplicates'),
        writeFaults: g('writeFaults'), ringFullExits: g('ringFullExits'), hdbssFullFaults: g('hdbssFullFaults'),
        drains: g('hdbssDrains', 'ringResets', 'ptaFlushes'), tlbi: g('tlbi'), collections: g('collections'),
        stores: g('stores'),
      };
    },
  };
}
