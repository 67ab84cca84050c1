/**
 * `dtsim show --html`: one self-contained page (inline SVG, inline script, no network) with the timeline of a
 * trace, the violating event marked, and buttons/keys to step through events showing the machine state at each
 * (page table, TLBs, vCPUs, bitmap, rings and buffers, VMM). The states are computed here by the real reducer
 * and embedded as rendered sections (deduplicated across events); the page re-implements nothing.
 *
 * Pure: no I/O, no clock.
 */
import { mutableCopy } from '../core/engine.ts';
import type { EventBase, Model } from '../core/model.ts';
import { describeDiff, summarizeState, type StateView } from './diff.ts';
import type { Timeline } from './timeline.ts';

/** The state after one event, as changes and indices into a pool of rendered sections. */
export interface Frame {
  /** Event index (-1: the initial state). */
  readonly index: number;
  readonly changes: readonly string[];
  readonly sections: readonly number[];
}

export interface Frames {
  readonly frames: readonly Frame[];
  /** Unique rendered sections: [title, text]. */
  readonly pool: readonly (readonly [string, string])[];
  /** Event range with embedded states (inclusive); events outside it are drawn without states. */
  readonly from: number;
  readonly to: number;
}

/**
 * Replays `events` (fast path) and renders the state after every event of [from, to] (and the state before
 * `from`). Stops at an event that is not enabled.
 */
export function buildFrames<S, E extends EventBase, C>(
  model: Model<S, E, C>, start: S, events: readonly E[], view: StateView<S> | undefined, from: number, to: number,
): Frames {
  const pool: [string, string][] = [];
  const poolIdx = new Map<string, number>();
  const intern = (title: string, text: string): number => {
    const key = `${title}\u0000${text}`;
    let i = poolIdx.get(key);
    if (i === undefined) { i = pool.length; pool.push([title, text]); poolIdx.set(key, i); }
    return i;
  };
  const sectionsOf = (s: S): number[] => summarizeState(view, s).map((x) => intern(x.title, x.lines.join('\n')));
  const frames: Frame[] = [];
  const s = mutableCopy(start);
  let last = to;
  for (let k = 0; k < from && k < events.length; k++) {
    const e = events[k] as E;
    if (!model.isEnabled(s, e)) { last = k - 1; break; }
    model.apply(s, e);
  }
  frames.push({ index: from - 1, changes: [], sections: sectionsOf(s) });
  for (let k = from; k <= last && k < events.length; k++) {
    const e = events[k] as E;
    if (!model.isEnabled(s, e)) { last = k - 1; break; }
    const before = mutableCopy(s);
    model.apply(s, e);
    frames.push({ index: k, changes: describeDiff(view, before, s, 200), sections: sectionsOf(s) });
  }
  return { frames, pool, from, to: Math.min(last, events.length - 1) };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const LANE_H = 24;
const LEFT = 8;
const LABELS_W = 64;

/** Traces longer than this draw only the events whose states are embedded (the page stays a few MB). */
const MAX_DRAWN = 20_000;

export function renderHtml(tl: Timeline, fr: Frames, title: string): string {
  const n = tl.events.length;
  const x0 = n > MAX_DRAWN ? Math.max(0, fr.from) : 0;
  const x1 = n > MAX_DRAWN ? Math.max(x0, fr.to) : n - 1;
  const drawn = Math.max(1, x1 - x0 + 1);
  const dx = drawn > 4000 ? 2 : drawn > 1000 ? 4 : drawn > 300 ? 8 : 14;
  const w = LEFT + drawn * dx + 20;
  const h = LANE_H * tl.lanes.length + 30;
  const laneIdx = new Map(tl.lanes.map((l, i) => [l, i]));
  const o = tl.outcome;
  const bad = o.status === 'ok' ? -2 : o.eventIndex;
  const svg: string[] = [];
  // Lane names stay in view while the timeline scrolls.
  const labels: string[] = [`<svg id="lanes" xmlns="http://www.w3.org/2000/svg" width="${LABELS_W}" height="${h}" viewBox="0 0 ${LABELS_W} ${h}">`];
  svg.push(`<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="timeline">`);
  tl.lanes.forEach((l, i) => {
    const y = 20 + i * LANE_H;
    labels.push(`<text x="4" y="${y + 15}" class="lane">${esc(l)}</text>`);
    svg.push(`<line x1="${LEFT}" x2="${w - 10}" y1="${y + 11}" y2="${y + 11}" class="laneline"/>`);
  });
  for (let i = x0; i <= x1 && i < n; i++) {
    const e = tl.events[i] as Timeline['events'][number];
    const x = LEFT + (e.index - x0) * dx;
    const y = 20 + (laneIdx.get(e.lane) ?? 0) * LANE_H + 3;
    const cls = `ev ${esc(e.type.split('/')[0] ?? '')}${e.index === bad ? ' bad' : ''}${e.index < fr.from || e.index > fr.to ? ' nostate' : ''}`;
    svg.push(`<rect class="${cls}" data-i="${e.index}" x="${x}" y="${y}" width="${Math.max(2, dx - 2)}" height="${LANE_H - 6}"><title>${e.index}: ${esc(e.text)}${e.label !== null ? ` # ${esc(e.label)}` : ''}</title></rect>`);
    if (e.label !== null) svg.push(`<circle class="label" cx="${x + Math.max(1, dx / 2 - 1)}" cy="${y - 2}" r="2.5"><title>${esc(e.label)}</title></circle>`);
  }
  if (bad >= x0 && bad <= x1) {
    const x = LEFT + (bad - x0) * dx + Math.max(1, dx / 2 - 1);
    svg.push(`<line id="violation-marker" x1="${x}" x2="${x}" y1="4" y2="${h - 4}"/><text x="${Math.min(x + 4, w - 150)}" y="12" class="badlabel">${esc(o.status === 'violated' ? o.invariant : 'rejected')}</text>`);
  }
  svg.push(`<line id="cursor" x1="0" x2="0" y1="14" y2="${h - 4}"/>`);
  svg.push('</svg>');
  labels.push('</svg>');
  const data = {
    title, n, dx, left: LEFT, bad, x0,
    outcome: o,
    events: tl.events.slice(x0, x1 + 1).map((e) => (e.label !== null ? [e.lane, e.text, e.label] : [e.lane, e.text])),
    frames: fr.frames.map((f) => [f.index, f.changes, f.sections]),
    pool: fr.pool,
    from: fr.from, to: fr.to,
  };
  const outcomeLine = o.status === 'ok' ? `ok: ${n} events, no invariant violated`
    : o.status === 'violated' ? `violated: ${o.invariant} after event ${o.eventIndex}: ${o.message}`
      : `rejected: ${o.message}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>
body{font:13px/1.35 ui-monospace,Menlo,Consolas,monospace;margin:0;color:#111;background:#fafafa}
header{padding:8px 12px;background:#223;color:#eee}
header h1{font-size:15px;margin:0 0 4px}
#outcome.bad{color:#ff8080}
#tl{display:flex;border-bottom:1px solid #ccc;background:#fff}#lanes{flex:none;border-right:1px solid #ddd}#scroll{overflow-x:auto;flex:1}
.lane{font-size:11px;fill:#333}.laneline{stroke:#eee}
.ev{fill:#7a9cc6;cursor:pointer}.ev.guest{fill:#5b8f5b}.ev.kvm{fill:#c68a3a}.ev.vmm{fill:#8a6fb0}.ev.host{fill:#b07070}.ev.vcpu{fill:#6aa0a0}.ev.pe,.ev.mmu{fill:#999}
.label{fill:#e0a000}.ev.nostate{opacity:.35}.ev.bad{fill:#d00;stroke:#600;stroke-width:1}.ev.cur{stroke:#000;stroke-width:2}
#violation-marker{stroke:#d00;stroke-width:2;stroke-dasharray:4 2}.badlabel{fill:#d00;font-size:11px}
#cursor{stroke:#000;stroke-width:1}
#controls{padding:6px 12px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
#controls button{font:inherit;padding:2px 8px}
#current{padding:4px 12px;font-weight:bold}#current.bad{color:#c00}
main{display:grid;grid-template-columns:minmax(300px,1fr) 2fr;gap:8px;padding:0 12px 12px}
h2{font-size:13px;margin:8px 0 4px}
pre{margin:0;white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:4px}
details{margin-bottom:4px}summary{cursor:pointer;font-weight:bold}
details.changed>summary{color:#a60}
</style></head>
<body>
<header><h1>${esc(title)}</h1><div id="outcome" class="${o.status === 'ok' ? '' : 'bad'}">${esc(outcomeLine)}</div>
<div>keys: &larr;/&rarr; step, Home/End first/last, v violation; click an event to select it.${fr.from > 0 || fr.to < n - 1 ? ` States are embedded for events ${fr.from}..${fr.to} only.` : ''}${x0 > 0 || x1 < n - 1 ? ` The timeline draws events ${x0}..${x1} of ${n}.` : ''}</div></header>
<div id="tl">${labels.join('')}<div id="scroll">${svg.join('')}</div></div>
<div id="controls"><button id="first">|&lt; first</button><button id="prev">&larr; prev</button><button id="next">next &rarr;</button><button id="last">last &gt;|</button><button id="goto-violation"${bad < 0 ? ' disabled' : ''}>violation</button>
<label>event <input id="index-input" type="number" min="-1" max="${n - 1}" style="width:7em"></label></div>
<div id="current" data-index=""></div>
<main><section><h2>Changes made by this event</h2><pre id="changes"></pre><h2>Events around it</h2><pre id="around"></pre></section>
<section><h2>Machine state after it</h2><div id="state"></div></section></main>
<script id="dtsim-data" type="application/json">${scriptJson(data)}</script>
<script>
(function(){
'use strict';
var D=JSON.parse(document.getElementById('dtsim-data').textContent);
var byIndex={};D.frames.forEach(function(f,k){byIndex[f[0]]=k;});
var rects={};Array.prototype.forEach.call(document.querySelectorAll('rect.ev'),function(r){rects[r.getAttribute('data-i')]=r;});var cur=null;var prevSecs=null;
function frameFor(i){var k=byIndex[i];return k===undefined?null:D.frames[k];}
function evAt(k){var e=D.events[k-D.x0];return e||['?','(event not embedded: re-run dtsim show with --from/--to around it)'];}
function text(id,t){document.getElementById(id).textContent=t;}
function show(i){
  if(i<-1)i=-1;if(i>D.n-1)i=D.n-1;
  if(cur!==null&&cur>=0&&rects[cur])rects[cur].classList.remove('cur');
  cur=i;if(i>=0&&rects[i])rects[i].classList.add('cur');
  var c=document.getElementById('cursor');var x=D.left+(Math.max(D.x0,i)-D.x0)*D.dx+(i<0?-4:D.dx/2);c.setAttribute('x1',x);c.setAttribute('x2',x);
  var el=document.getElementById('current');el.setAttribute('data-index',String(i));
  var isBad=i===D.bad;el.className=isBad?'bad':'';
  var ev=i>=0?evAt(i):null;
  el.textContent=(i<0?'initial state':'event '+i+' / '+(D.n-1)+'  ['+ev[0]+']  '+ev[1])+(isBad?'   <<< '+(D.outcome.invariant||'rejected')+': '+D.outcome.message:'')+(ev&&ev[2]?'   # '+ev[2]:'');
  document.getElementById('index-input').value=String(i);
  var f=frameFor(i);
  text('changes',f?(f[1].length?f[1].join('\\n'):'(no state change)'):'(state not embedded for this event)');
  var a=[];for(var k=Math.max(0,i-4);k<=Math.min(D.n-1,i+4);k++)a.push((k===i?'> ':'  ')+k+'  '+evAt(k)[0]+'  '+evAt(k)[1]+(k===D.bad?'   <<< '+(D.outcome.invariant||'rejected'):'')+(evAt(k)[2]?'   # '+evAt(k)[2]:''));
  text('around',a.join('\\n'));
  var st=document.getElementById('state');st.textContent='';
  if(f){f[2].forEach(function(p,j){var s=D.pool[p];var d=document.createElement('details');d.open=true;
    if(prevSecs&&prevSecs[j]!==p)d.className='changed';
    var sm=document.createElement('summary');sm.textContent=s[0];var pre=document.createElement('pre');pre.textContent=s[1];
    d.appendChild(sm);d.appendChild(pre);st.appendChild(d);});prevSecs=f[2];}
  else{st.textContent='(state not embedded for this event: re-run dtsim show with --from/--to around it)';prevSecs=null;}
  if(i>=0&&rects[i]&&rects[i].scrollIntoView)try{rects[i].scrollIntoView({block:'nearest',inline:'center'});}catch(e){}
}
document.getElementById('first').onclick=function(){show(-1);};
document.getElementById('prev').onclick=function(){show(cur-1);};
document.getElementById('next').onclick=function(){show(cur+1);};
document.getElementById('last').onclick=function(){show(D.n-1);};
document.getElementById('goto-violation').onclick=function(){if(D.bad>=0)show(D.bad);};
document.getElementById('index-input').onchange=function(e){var v=parseInt(e.target.value,10);if(!isNaN(v))show(v);};
document.getElementById('timeline').addEventListener('click',function(e){var t=e.target;if(t&&t.getAttribute&&t.getAttribute('data-i')!==null)show(parseInt(t.getAttribute('data-i'),10));});
document.addEventListener('keydown',function(e){if(e.target&&e.target.tagName==='INPUT')return;
  if(e.key==='ArrowRight'){show(cur+1);e.preventDefault();}else if(e.key==='ArrowLeft'){show(cur-1);e.preventDefault();}
  else if(e.key==='Home'){show(-1);}else if(e.key==='End'){show(D.n-1);}else if(e.key==='v'&&D.bad>=0){show(D.bad);}});
show(D.bad>=0?D.bad:(D.n>0?D.n-1:-1));
document.body.setAttribute('data-ready','1');
})();
</script>
</body></html>
`;
}
