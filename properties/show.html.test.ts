/**
 * `dtsim show --html` in a real browser (Debian's chromium, driven by playwright-core): the page renders with
 * no network, marks the violating event, and stepping (buttons, keys, clicks) moves through events showing the
 * state the real reducer computed at each. Also checks the Perfetto export and the text timeline.
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium). Without it the browser test is skipped locally and
 * fails under CI (CI set).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { CHROMIUM, haveChromium, headlessBrowser } from './support/chromium.ts';
import { SEED } from './support/seed.ts';
import { regressionTraces, knobTraces, type FailingTrace } from './support/failing-traces.ts';
import { buildTimeline, renderTimelineText } from '../src/workflow/timeline.ts';
import { buildFrames, renderHtml } from '../src/workflow/html.ts';
import { toPerfetto } from '../src/workflow/perfetto.ts';
import { viewFor } from '../src/cli/commands/bisect.ts';
import { replayFrom } from '../src/core/engine.ts';
import { serializeTrace } from '../src/trace/format.ts';
import { writeFileSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url).pathname;
const chromiumHere = haveChromium('show.html.test');

function failing(): FailingTrace {
  const t = regressionTraces().find((x) => x.trace.expect.status === 'violated' && x.trace.events.length >= 10)
    ?? knobTraces().find((x) => x.trace.events.length >= 10);
  if (!t) throw new Error('no failing trace to show');
  return t;
}

function pageFor(t: FailingTrace): { html: string; bad: number } {
  const m = t.model;
  const start = m.init(t.trace.design, t.trace.config);
  const tl = buildTimeline(m, start, t.trace.events, { vcpus: 2, pes: 2 });
  const fr = buildFrames(m, start, t.trace.events, viewFor(m), 0, t.trace.events.length - 1);
  const bad = tl.outcome.status === 'ok' ? -1 : tl.outcome.eventIndex;
  return { html: renderHtml(tl, fr, `test ${t.label}`), bad };
}

describe.skipIf(!chromiumHere)(`show --html in headless Chromium (seed ${SEED})`, () => {
  const env = headlessBrowser('dtsim-show-');

  it('renders offline, marks the violating event, and steps through the states', async () => {
    const t = failing();
    const { html, bad } = pageFor(t);
    expect(bad).toBeGreaterThan(0);
    const file = join(env.dir(), 'show.html');
    writeFileSync(file, html);
    const page = await env.browser().newPage();
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready="1"]');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    // Rendered: one rect per event, a lane label per lane, the violation marked.
    expect(await page.locator('rect.ev').count()).toBe(t.trace.events.length);
    expect(await page.locator('rect.ev.bad').count()).toBe(1);
    expect(await page.locator('rect.ev.bad').getAttribute('data-i')).toBe(String(bad));
    expect(await page.locator('#violation-marker').count()).toBe(1);
    expect(await page.locator('svg text.lane').allTextContents()).toEqual(expect.arrayContaining(['vcpu0', 'vcpu1', 'pe0', 'pe1', 'vmm']));
    // Opens on the violating event, with its state.
    const idx = async (): Promise<string | null> => page.locator('#current').getAttribute('data-index');
    expect(await idx()).toBe(String(bad));
    expect(await page.locator('#current').textContent()).toContain(t.trace.expect.status === 'violated' ? t.trace.expect.invariant : '');
    const stateAt = async (): Promise<string> => (await page.locator('#state').textContent()) ?? '';
    const atBad = await stateAt();
    expect(atBad).toContain('Stage-2 page table');
    expect(atBad).toContain('TLBs');
    expect(atBad).toContain('Dirty bitmap');
    // Stepping: button, keys, click, the index box.
    await page.click('#prev');
    expect(await idx()).toBe(String(bad - 1));
    const atPrev = await stateAt();
    await page.keyboard.press('ArrowRight');
    expect(await idx()).toBe(String(bad));
    expect(await stateAt()).toBe(atBad);
    await page.keyboard.press('Home');
    expect(await idx()).toBe('-1');
    expect(await page.locator('#current').textContent()).toContain('initial state');
    await page.click('#next');
    expect(await idx()).toBe('0');
    await page.locator('rect.ev[data-i="3"]').click();
    expect(await idx()).toBe('3');
    await page.keyboard.press('v');
    expect(await idx()).toBe(String(bad));
    await page.click('#first');
    await page.keyboard.press('End');
    expect(await idx()).toBe(String(t.trace.events.length - 1));
    // The state shown for an event is the reducer's, rendered by the machine view (every section, verbatim).
    const m = t.model;
    const start = m.init(t.trace.design, t.trace.config);
    const view = viewFor(m);
    expect(view?.summarize).toBeDefined();
    const sPrev = replayFrom(m, start, t.trace.events.slice(0, bad), { path: 'fast', noChecks: true }).state;
    const sBad = replayFrom(m, start, t.trace.events.slice(0, bad + 1), { path: 'fast', noChecks: true }).state;
    for (const sec of view?.summarize?.(sBad) ?? []) expect(atBad).toContain(sec.lines.join('\n'));
    for (const sec of view?.summarize?.(sPrev) ?? []) expect(atPrev).toContain(sec.lines.join('\n'));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the CLI writes the page atomically and it loads', async () => {
    const t = failing();
    const trace = join(env.dir(), 'trace.json');
    writeFileSync(trace, t.file ? readFileSync(t.file, 'utf8') : serializeTrace(t.trace));
    const out = join(env.dir(), 'cli.html');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), 'show', trace, '--html', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const page = await env.browser().newPage();
    await page.goto(`file://${out}`);
    await page.waitForSelector('body[data-ready="1"]');
    expect(await page.locator('rect.ev.bad').count()).toBe(1);
    await page.close();
  });
});


describe.skipIf(!chromiumHere)(`show --html of a long trace (seed ${SEED})`, () => {
  it('draws and embeds only a window of events and still steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-long-'));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    try {
      const trace = join(dir, 'long.json');
      const run = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), 'run', '--model', 'dirty-bitmap', '--seed', 'show-long', '--events', '25000', '--config', '{"rounds":1000}', '--out', trace], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const n = (JSON.parse(readFileSync(trace, 'utf8')) as { events: unknown[] }).events.length;
      expect(n).toBeGreaterThan(20_000);
      const out = join(dir, 'long.html');
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), 'show', trace, '--html', out, '--max-states', '500'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const page = await browser.newPage();
      await page.goto(`file://${out}`);
      await page.waitForSelector('body[data-ready="1"]');
      expect(await page.locator('rect.ev').count()).toBe(500);
      expect(await page.locator('#current').getAttribute('data-index')).toBe(String(n - 1));
      await page.keyboard.press('ArrowLeft');
      expect(await page.locator('#current').getAttribute('data-index')).toBe(String(n - 2));
      expect(await page.locator('#state').textContent()).toContain('TLBs');
      await page.close();
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`show text and perfetto (seed ${SEED})`, () => {
  it('the text timeline has one row per event in its lane and marks the violation', () => {
    const t = failing();
    const m = t.model;
    const tl = buildTimeline(m, m.init(t.trace.design, t.trace.config), t.trace.events, { vcpus: 2, pes: 2 });
    const text = renderTimelineText(tl, { width: 160 });
    const rows = text.split('\n').filter((l) => /^\s*\d+[ X!] /.test(l));
    expect(rows.length).toBe(t.trace.events.length);
    const bad = rows.filter((l) => /^\s*\d+X /.test(l));
    expect(bad.length).toBe(1);
    if (t.trace.expect.status === 'violated') {
      expect(bad[0]).toMatch(new RegExp(`^\\s*${t.trace.expect.eventIndex}X`));
      expect(text).toContain(t.trace.expect.invariant);
    }
    expect(tl.lanes.slice(0, 4)).toEqual(['vcpu0', 'vcpu1', 'pe0', 'pe1']);
  });

  it('the perfetto export is trace-event JSON with a thread per lane and the violation as an instant', () => {
    const t = failing();
    const m = t.model;
    const tl = buildTimeline(m, m.init(t.trace.design, t.trace.config), t.trace.events);
    const j = JSON.parse(JSON.stringify(toPerfetto(tl, 't'))) as { traceEvents: { ph: string; name: string; tid: number; ts?: number; args?: { name?: string } }[] };
    const threads = j.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
    expect(threads).toEqual([...tl.lanes]);
    expect(j.traceEvents.filter((e) => e.ph === 'X').length).toBe(t.trace.events.length);
    const inst = j.traceEvents.filter((e) => e.ph === 'i');
    expect(inst.length).toBe(1);
    if (t.trace.expect.status === 'violated') expect(inst[0]?.name).toBe(t.trace.expect.invariant);
  });
});
