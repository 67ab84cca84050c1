/**
 * The mechanism registry: every mechanism folder of the shared machine, declared in one list. A folder exports
 * one `MechanismFolder` (its mechanisms, its events and, through each mechanism, its hooks, invariants and view);
 * adding a mechanism is one import and one entry here, and nothing else outside its folder.
 *
 * Registration is by declaration: importing a mechanism's files registers nothing (no side effect). The list is
 * read through functions, on first use, never at module evaluation: the mechanisms import the machine, which
 * reads this list (machine/selected.ts `mechanismsOf`, machine/parts.ts `partOf`, events.ts `eventFields`), so the import graph has cycles in which a
 * mechanism's binding may still be uninitialised while this module is evaluated.
 */
import type { EventDecl, EventOf } from './machine/events.ts';
import type { Compiled } from '../src/core/schema.ts';
import type { Mechanism, MechanismFolder } from './machine/mechanisms.ts';
import { RING_FOLDER } from './dirty-ring/mechanism.ts';
import { HW_FOLDER } from './hw-dirty/scan.ts';
import { HDBSS_FOLDER } from './hdbss/hdbss.ts';
import { PTA_FOLDER } from './pta/pta.ts';

/** The declared list, in the order views render the mechanisms' sections (ring before HDBSS). */
const folders = () => [RING_FOLDER, HW_FOLDER, HDBSS_FOLDER, PTA_FOLDER] as const;

/** The event union of every declared mechanism (model-events.ts adds it to the core events). */
export type MechanismEvent = EventOf<ReturnType<typeof folders>[number]['events'][number]>;

let mechanisms: readonly Mechanism[] | undefined;
let decls: readonly EventDecl[] | undefined;

/** Every declared mechanism folder, in declaration order. */
export function mechanismFolders(): readonly MechanismFolder[] {
  return folders();
}

/** Every declared mechanism, in declaration order (ids unique: checked here, once). */
export function declaredMechanisms(): readonly Mechanism[] {
  if (mechanisms) return mechanisms;
  const all = folders().flatMap((f) => f.mechanisms());
  const seen = new Set<string>();
  for (const m of all) {
    if (seen.has(m.id)) throw new Error(`[dtsim] mechanism id '${m.id}' declared twice (models/mechanisms.ts)`);
    seen.add(m.id);
  }
  mechanisms = all;
  return all;
}

/** Every declared mechanism event, in declaration order. */
export function mechanismEventDecls(): readonly EventDecl[] {
  decls ??= folders().flatMap((f): readonly EventDecl[] => f.events);
  return decls;
}

let parts: ReadonlyMap<string, Compiled<unknown>> | undefined;

/** Every declared state part by `s.ext` key (a key declared by two folders must be the same part). */
export function declaredParts(): ReadonlyMap<string, Compiled<unknown>> {
  if (parts) return parts;
  const m = new Map<string, Compiled<unknown>>();
  for (const f of folders()) {
    const own = f.parts ? f.parts() : {};
    for (const k of Object.keys(own)) {
      const p = own[k] as Compiled<unknown>;
      const prev = m.get(k);
      if (prev !== undefined && prev !== p) throw new Error(`[dtsim] state part '${k}' declared differently by two folders (models/mechanisms.ts)`);
      m.set(k, p);
    }
  }
  parts = m;
  return m;
}
