export type { MachineModel } from '../../models/index.ts';
