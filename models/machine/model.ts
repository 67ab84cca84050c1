/**
 * Builds a named model (a preset of the shared machine) that plugs into the engine: dirty-bitmap,
 * dirty-ring, pta and hdbss are all `makeMachineModel(preset)`.
 */
import type { BugKnob, Design, FieldError, Invariant, JsonValue, Model, ModelMigration } from '../../src/core/model.ts';
import { assertModelMigrations } from '../../src/trace/model-migrations.ts';
import { keyName, quote } from '../../src/core/untrusted.ts';
import type { Situation } from '../../src/check/campaign.ts';
import { candidates, isEnabled } from './machine.ts';
import { apply } from './reducer.ts';
import { invariantsFor } from './invariants.ts';
import { declaredWeight, describe, lane, parseEventWith } from './events.ts';
import type { MachineEvent } from './model-events.ts';
import { DEFAULT_CONFIG, initMachine, parseMachineConfig, type MachineConfig, type MachineState } from './state.ts';
import { mechanismsOf } from './selected.ts';
import { tlbFind } from './tlb.ts';
import { bitNext } from './paged.ts';
import { cloneMachine, copyMachineInto, loadMachine, machineImage, machineStateFields, machineSymmetry, packMachine, saveMachine } from './schema.ts';
import { machineView } from './view.ts';
import { machineConfigCandidates, machineRelabelings } from './shrink.ts';
import { machineWorkload } from './workload.ts';

/** A model's option declarations: option -> allowed values, the first the default. */
export type PresetOptions = { readonly [k: string]: readonly JsonValue[] };

/**
 * Some options of a model with declarations `O`, each with one of its allowed values: a matrix row, a knob's
 * forced options, a situation's `when` / `unless`. For a model's `as const` declarations a misspelled name or a
 * value outside the domain fails tsc (before, a situation's `when: { consumr: 'ring' }` compiled and silently
 * never applied); for the untyped `PresetOptions` (the default) it is any name and JSON value.
 */
export type OptionRow<O extends PresetOptions = PresetOptions> = string extends keyof O
  ? { readonly [k: string]: JsonValue }
  : { readonly [K in keyof O]?: O[K][number] };

/** A bug knob of a preset, with the options (and config) it needs to be reachable. */
export interface PresetBug<O extends PresetOptions = PresetOptions> extends BugKnob {
  /** Options forced when the knob is selected (e.g. B3 needs manual protect). */
  readonly options?: OptionRow<O>;
  /** Configuration the catalogue campaign uses to find it (merged over the preset's check config). */
  readonly config?: Partial<MachineConfig>;
}

/** A situation of a preset, applying to designs by its model's own options (typed like `OptionRow`). */
export type PresetSituation<O extends PresetOptions = PresetOptions> = Omit<Situation, 'when' | 'unless'> & {
  readonly when?: OptionRow<O>;
  readonly unless?: OptionRow<O>;
};

export interface Preset<O extends PresetOptions = PresetOptions> {
  readonly id: string;
  /** Bump when `apply` semantics change, with a step in `migrations` (see `Model.version`). */
  readonly version: number;
  /**
   * How traces of older versions are read (`Model.migrations`): one step per bump, declared in the model's own
   * folder (`models/<id>/migrations.ts`). Checked complete when the model is built.
   */
  readonly migrations: readonly ModelMigration[];
  readonly description: string;
  /**
   * Option -> allowed values; the first is the default. Each model declares its own `as const` (e.g.
   * `DIRTY_RING_OPTIONS`) with the union of its names (`DirtyRingOption`), which types every option read in the
   * code (options.ts).
   */
  readonly options: O;
  readonly bugs: readonly PresetBug<O>[];
  readonly invariants: readonly Invariant<MachineState>[];
  /** Configuration used by `dtsim check` and the property suite. */
  readonly checkConfig: MachineConfig;
  /** Option combinations `dtsim check` runs (the option matrix); each is merged over the defaults. */
  readonly matrix: readonly OptionRow<O>[];
  /** Situations specific to this model that `dtsim check` must reach (coverage), beyond COMMON_SITUATIONS. */
  readonly situations?: readonly PresetSituation<O>[];
  /**
   * Optional: reject a combination of options (after the knobs' own options are applied) that the modelled
   * kernel refuses, e.g. a KVM_ENABLE_CAP that fails. Returns the option at fault and why, or null.
   */
  readonly checkOptions?: (options: { readonly [k: string]: JsonValue }, bugs: readonly string[]) => { field: string; message: string } | null;
}

/** Situations every design must reach in `dtsim check` (a gap is printed when one is never reached). */
export const COMMON_SITUATIONS: readonly Situation[] = [
  { id: 'write-fault', label: 'a write fault marks a page', stat: 'writeFaults' },
  { id: 'stale-tlb-store', label: 'a store through a stale writable TLB entry', stat: 'staleTlbStores' },
  { id: 'vcpu-migrated', label: 'a vCPU loaded on another PE', stat: 'vcpuMigrations' },
  { id: 'host-write-no-vcpu', label: 'a host write with no running vCPU (ITS save)', stat: 'itsWrites' },
  { id: 'collection', label: 'a completed collection round', stat: 'collections' },
];

export type MachineModel = Model<MachineState, MachineEvent, MachineConfig> & {
  readonly preset: Preset;
  finish(state: MachineState): MachineEvent | null;
  /** The design for options and bugs, validated and with each knob's required options applied. */
  design(options?: { readonly [k: string]: JsonValue }, bugs?: readonly string[]): Design;
};

/** Scheduler weights: the guest does most of the work; VMM steps and rare hardware events are lighter. */
/** Mechanisms declare the weights of their own event types (`EventDecl.weight`, default 5). */
export const WEIGHTS: { [type: string]: number } = {
  'guest/storeIssued': 60, 'guest/storeRetired': 60, 'guest/storeFaulted': 60,
  'kvm/faultMapped': 60, 'kvm/faultMarked': 60,
  'pe/tlbEvicted': 2, 'mmu/accessTracked': 4, 'guest/loadPerformed': 30,
  'kvm/tlbiIpa': 2, 'kvm/tlbiVmid': 1, 'kvm/tlbiAll': 1, 'kvm/ioctlTlbiIssued': 10, 'kvm/faultTlbiIssued': 30,
  'vcpu/loaded': 10, 'vcpu/entered': 20, 'vcpu/exited': 3, 'vcpu/put': 3,
  'host/stolenTimeWritten': 20, 'host/itsTableSaved': 20,
  'kvm/loggingEnabled': 5, 'kvm/dirtyLogHarvested': 4, 'kvm/dirtyLogFetched': 4, 'kvm/dirtyLogCleared': 20,
  'kvm/ioctlReturned': 10, 'vmm/pageCopied': 60, 'vmm/vmStopped': 1, 'vmm/migrationCompleted': 30,
};

export function makeMachineModel<O extends PresetOptions>(preset: Preset<O>): MachineModel {
  // The typed declarations were checked at the call (names and values of every row in O's domains); from here
  // on the model (and `model.preset`'s readers) use them as plain data. Every typed row is a plain row, but tsc
  // cannot prove it for a generic O (OptionRow is a conditional type), hence the cast.
  const p = preset as unknown as Preset;
  const defaults: { [k: string]: JsonValue } = {};
  for (const [k, vals] of Object.entries(p.options)) defaults[k] = vals[0] as JsonValue;
  const invariants = invariantsFor(p.invariants);
  // Startup assertion: a version bump without its migration step (or a gap in the chain) stops dtsim here.
  assertModelMigrations(p);

  function parseOptions(raw: unknown): { ok: true; options: { [k: string]: JsonValue } } | { ok: false; error: FieldError } {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: { field: 'options', message: 'must be an object' } };
    const out: { [k: string]: JsonValue } = { ...defaults };
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      // Own properties only: `__proto__`, `constructor`, `toString`... are unknown options, not Object.prototype's.
      const dom = Object.hasOwn(p.options, k) ? p.options[k] : undefined;
      if (!dom) return { ok: false, error: { field: `options.${keyName(k)}`, message: `unknown option for model '${p.id}' (known: ${Object.keys(p.options).join(', ')})` } };
      if (!dom.some((d) => JSON.stringify(d) === JSON.stringify(v))) {
        return { ok: false, error: { field: `options.${k}`, message: `must be one of ${dom.map((d) => JSON.stringify(d)).join(', ')}, got ${quote(v)}` } };
      }
      out[k] = v as JsonValue;
    }
    return { ok: true, options: out };
  }

  const model: MachineModel = {
    id: p.id,
    version: p.version,
    migrations: p.migrations,
    description: p.description,
    preset: p,
    bugs: p.bugs,
    defaultOptions: defaults,
    defaultConfig: p.checkConfig ?? DEFAULT_CONFIG,
    parseConfig: parseMachineConfig,
    parseOptions,
    design(options = {}, bugs = []) {
      const merged: { [k: string]: JsonValue } = { ...defaults, ...options };
      for (const b of bugs) {
        const k = p.bugs.find((x) => x.id === b);
        if (!k) throw new Error(`[dtsim] unknown bug '${b}' for model '${p.id}'`);
        Object.assign(merged, k.options ?? {});
      }
      const po = parseOptions(merged);
      if (!po.ok) throw new Error(`[dtsim] ${po.error.field}: ${po.error.message}`);
      const refused = p.checkOptions?.(po.options, bugs) ?? null;
      if (refused) throw new Error(`[dtsim] options.${refused.field}: ${refused.message}`);
      return { model: p.id, modelVersion: p.version, options: po.options, bugs: [...bugs].sort() };
    },
    init(design, config) {
      const s = initMachine(design, config);
      for (const m of mechanismsOf(s)) m.init?.(s);
      return s;
    },
    enabled: (s) => candidates(s),
    isEnabled,
    apply,
    invariants,
    parseEvent: (raw, config) => parseEventWith<MachineEvent>(raw, config),
    metrics(s) {
      const out: { [k: string]: number } = { ...s.stats };
      out['unjustifiedRate'] = s.stats.reports ? s.stats.unjustified / s.stats.reports : 0;
      for (const m of mechanismsOf(s)) m.metrics?.(s, out);
      return out;
    },
    isFinal: (s) => s.vmm.phase === 'done',
    describeEvent: (e) => describe(e as unknown as { type: string }),
    laneOf: (e) => lane(e as unknown as { type: string }),
    weightOf: (_s, e) => WEIGHTS[e.type] ?? declaredWeight(e.type) ?? 5,
    // Locality: a guest tends to store again to pages it touched recently (cached in its PE's TLB); those are
    // also the stores that can go through a stale writable entry, so they are the ones worth scheduling often.
    memberWeightOf: (s, e) => {
      if (e.type !== 'guest/storeIssued') return 1;
      const pe = s.pes[s.vcpus[e.vcpu]?.pe ?? -1];
      return pe && tlbFind(pe.tlb, e.gfn, s.vmid) >= 0 ? 24 : 1;
    },
    finish: (s) => finishStep(s),
    collection: {
      round: (s) => s.vmm.round,
      pending: (s) => {
        const out: number[] = [];
        if (s.vmm.toCopyCount === 0) return out;
        for (let g = bitNext(s.vmm.toCopy, 0, s.totalPages); g >= 0; g = bitNext(s.vmm.toCopy, g + 1, s.totalPages)) out.push(g);
        return out;
      },
    },
    workload: machineWorkload(p.id),
    pack: packMachine,
    symmetry: machineSymmetry,
    clone: cloneMachine,
    copyInto: copyMachineInto,
    save: saveMachine,
    load: loadMachine,
    image: machineImage,
    view: machineView,
    configCandidates: machineConfigCandidates,
    relabelings: machineRelabelings,
    stateFields() {
      return machineStateFields(p.matrix.map((o) => this.init(this.design(o), p.checkConfig ?? DEFAULT_CONFIG)));
    },
  };
  return model;
}

/**
 * Drives a run to completion deterministically (the completion phase of every driver): finish in-flight
 * work, stop the VM, run the final collection and copy everything. Returns an enabled event or null.
 */
export function finishStep(s: MachineState): MachineEvent | null {
  const en = candidates(s);
  if (en.length === 0) return null;
  const rank = (e: MachineEvent): number => {
    switch (e.type) {
      case 'kvm/faultMapped': case 'kvm/faultMarked': return 0;
      case 'kvm/ioctlReturned': return 1;
      case 'host/stolenTimeWritten': return 2;
      case 'kvm/loggingEnabled': return 3;
      case 'vmm/pageCopied': return 4;
      case 'kvm/dirtyLogCleared': return 5;
      case 'kvm/dirtyLogHarvested': case 'kvm/dirtyLogFetched': return 6;
      case 'vmm/migrationCompleted': return 7;
      case 'vmm/vmStopped': return 8;
      case 'vcpu/exited': return 9;
      case 'host/itsTableSaved': return 10;
      // Never used to finish: new guest work, and hardware noise that only hides staleness.
      case 'guest/storeIssued': case 'pe/tlbEvicted': case 'mmu/accessTracked':
      case 'vcpu/loaded': case 'vcpu/entered': case 'vcpu/put':
        return 100;
      // Mechanism events (ring harvest/reset, drains, hardware updates of an in-flight store...).
      default: return 50;
    }
  };
  let best: MachineEvent | null = null;
  let bestRank = 99; // rank 100 is never chosen
  for (const e of en) {
    const r = rank(e);
    if (r < bestRank) { best = e; bestRank = r; }
  }
  return best;
}
