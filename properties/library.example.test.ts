// The README's "Writing your own properties" example, verbatim (properties/library.readme.test.ts checks that
// README.md shows exactly this file between its example markers), so the example always compiles and passes.
import { test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { choices, designs, runDesign, workloads } from '../src/testing/index.ts';
import { dirtyBitmap } from '../models/index.ts';

test.prop([designs(dirtyBitmap), workloads(dirtyBitmap), choices()], { numRuns: 50 })(
  'every dirty-bitmap design migrates without losing a page',
  (design, config, choiceSeq) => {
    const r = runDesign(dirtyBitmap, design, config, choiceSeq);
    expect(r.violation).toBeNull(); // INV-NOLOSS, INV-FINAL, INV-ARMED, INV-FLUSH, ... all held
    expect(r.finished).toBe(true); // the VM stopped and every page was copied
  },
);
