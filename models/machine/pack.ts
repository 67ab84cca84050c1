/**
 * Transitional re-exports: the machine's copy, pack, save and load are derived from its schema (schema.ts). The
 * list helpers below remain only for the mechanism codecs that are not yet schema parts.
 */
export { checkShape, cloneMachine, copyMachineInto, machineSymmetry, packMachine, vmidRel } from './schema.ts';
export { copyNums, copyPagedInto } from '../../src/core/schema.ts';
