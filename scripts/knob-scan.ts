/**
 * `npm run scan:knobs`: how stable is each knob's first violation across seeds? Every knob of the catalogue is
 * searched as `properties/catalogue.knobs-are-found.test.ts` searches it (fast-check choice sequences of up to
 * 240 choices, 1,000 runs, the first failure) from S search seeds derived from --seed, and the invariant of each
 * counterexample is tallied. The catalogue test runs ONE such search per knob with the commit's seed, so a knob
 * found as another invariant by x% of the seeds fails about x% of CI runs: this is how F11, F5 (declared
 * alternatives, `BugKnob.alsoExpect`) and F10b's false INV-LIVE-HDBSS were found (session 5: 200 seeds, about
 * 15 min on 2 cores).
 * Prints one line per knob (`!!` when some seed found an invariant the knob neither expects nor declares, `~~`
 * when only a declared alternative, `??` when some search found nothing) and exits 1 if any knob has a `!!` line,
 * 4 if only `??` lines, else 0. Options: --searches S (default 50), --seed STR (default knob-scan), --model M,
 * --knob K (repeatable).
 */
import { knobFoundAs } from '../src/core/model.ts';
import { MODELS } from '../models/index.ts';
import { searchKnob } from '../properties/support/models.ts';

function flag(name: string): string[] {
  const out: string[] = [];
  const a = process.argv;
  for (let i = 0; i < a.length; i++) if (a[i] === `--${name}` && a[i + 1] !== undefined) out.push(a[i + 1] as string);
  return out;
}

/** A stable 32-bit fast-check seed of a string (FNV-1a, as properties/support/seed.ts). */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

const searches = Number(flag('searches')[0] ?? 50);
if (!Number.isInteger(searches) || searches < 1) {
  process.stderr.write(`knob-scan: --searches: want a positive integer, got '${flag('searches')[0] ?? ''}'\n`);
  process.exit(2);
}
const seed = flag('seed')[0] ?? 'knob-scan';
const models = flag('model');
const knobs = flag('knob');
for (const m of models) {
  if (!MODELS.some((x) => x.id === m)) { process.stderr.write(`knob-scan: --model: unknown model '${m}'\n`); process.exit(2); }
}
for (const k of knobs) {
  if (!MODELS.some((x) => x.preset.bugs.some((b) => b.id === k))) { process.stderr.write(`knob-scan: --knob: unknown knob '${k}'\n`); process.exit(2); }
}
process.stdout.write(`knob-scan: seed=${seed} searches=${searches} runs=1000 choices<=240${models.length ? ` models=${models.join(',')}` : ''}${knobs.length ? ` knobs=${knobs.join(',')}` : ''}\n`);

let wrong = 0;
let open = 0;
for (const m of MODELS) {
  if (models.length && !models.includes(m.id)) continue;
  for (const b of m.preset.bugs) {
    if (b.expect === null || (knobs.length && !knobs.includes(b.id))) continue;
    const seen: Record<string, number> = {};
    for (let i = 0; i < searches; i++) {
      const r = searchKnob(m, b, seedOf(`${seed}/${m.id}/${b.id}/${i}`));
      const k = r !== null ? String(r.outcome.invariant) : 'not found';
      seen[k] = (seen[k] ?? 0) + 1;
    }
    const bad = Object.keys(seen).filter((k) => k !== 'not found' && !knobFoundAs(b, k));
    const alt = Object.keys(seen).some((k) => k !== b.expect && knobFoundAs(b, k));
    const tag = bad.length ? '!!' : seen['not found'] ? '??' : alt ? '~~' : '  ';
    if (bad.length) wrong++;
    else if (seen['not found']) open++;
    const also = b.alsoExpect ? ` (or ${Object.keys(b.alsoExpect).join(', ')})` : '';
    process.stdout.write(`${tag} ${m.id}/${b.id} (${b.ref}) expects ${b.expect}${also}: ${Object.entries(seen).map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
  }
}
process.stdout.write(wrong ? `${wrong} knob(s) found as an invariant they neither expect nor declare\n`
  : open ? `${open} knob(s) not found by some search (raise the budget or look at the knob)\n` : 'every search found its knob as an expected or declared invariant\n');
process.exit(wrong ? 1 : open ? 4 : 0);
