/**
 * Command-line arguments shared by the scale benches (compare-scale.ts, compare-point.ts): `--name value`
 * lookups, the preset, and the workload variant with its model and options.
 */
import { MODELS } from '../src/cli/registry.ts';
import { PRESETS } from '../src/compare/scale.ts';

export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : dflt;
}

/** `--preset` (default realistic) and `--variant` (default bitmap): the preset, the variant's model and options. */
export function presetAndVariant() {
  const preset = PRESETS[arg('preset', 'realistic')];
  if (!preset) throw new Error(`unknown preset (one of ${Object.keys(PRESETS).join(', ')})`);
  const variant = arg('variant', 'bitmap');
  const model = MODELS.find((m) => m.workload?.variants.some((v) => v.label === variant));
  if (!model) throw new Error(`unknown variant ${variant}`);
  const options = model.workload!.variants.find((v) => v.label === variant)!.options;
  return { preset, variant, model, options };
}
