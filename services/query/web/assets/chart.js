// Ounce dashboard: a small SVG line chart. No dependencies.
//
// OunceChart.line(opts) returns a <figure> holding an <svg> and its legend.
// opts:
//   title     accessible name of the chart (also the figure caption)
//   series    [{label, points: [{x, y}]}]: x in Unix milliseconds, y a number
//             or null (a gap: the line breaks there). Each series is drawn as
//             one <path class="series sN"> whose "d" has one M or L command per
//             non-null point, so the path can be checked against the data.
//   band      optional [{x, lo, hi}]: a shaded interval (e.g. a prediction interval)
//   bandLabel legend text of the band
//   yDomain   optional [min, max] shared between several charts
//   yFormat   optional function formatting y tick labels
//   dashed    optional set of series indexes drawn dashed (e.g. projections)
'use strict';

(function (global) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 720, H = 320;
  const M = {top: 16, right: 20, bottom: 36, left: 68};
  const YEAR_MS = 365.2425 * 86400000;
  let uid = 0;

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) {
      if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  // niceStep is 1, 2 or 5 times a power of ten, near span/count.
  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }

  function linearTicks(min, max, count) {
    if (!(max > min)) return [min];
    const step = niceStep(max - min, count);
    const out = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  // timeTicks picks calendar ticks (years, months, days or hours) for a span.
  function timeTicks(min, max, count) {
    const span = max - min;
    const out = [];
    if (span >= 2 * YEAR_MS || span === 0) {
      const y0 = new Date(min).getUTCFullYear(), y1 = new Date(max).getUTCFullYear();
      let step = Math.max(1, niceStep(y1 - y0 || 1, count));
      step = Math.max(1, Math.round(step));
      for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
        const t = Date.UTC(y, 0, 1);
        if (t >= min && t <= max) out.push({t, label: String(y)});
      }
      if (out.length === 0) out.push({t: min, label: String(y0)});
      return out;
    }
    if (span >= 60 * 86400000) {
      const months = span / (YEAR_MS / 12);
      const step = [1, 2, 3, 6, 12].find((s) => months / s <= count) || 12;
      const d = new Date(min);
      let y = d.getUTCFullYear(), m = d.getUTCMonth();
      if (Date.UTC(y, m, 1) < min) m++;
      m = Math.ceil(m / step) * step;
      for (let t = Date.UTC(y, m, 1); t <= max; m += step, t = Date.UTC(y, m, 1)) {
        const dt = new Date(t);
        out.push({t, label: dt.getUTCFullYear() + '-' + pad2(dt.getUTCMonth() + 1)});
      }
      return out;
    }
    const hour = 3600000;
    const steps = [hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour, 24 * hour, 2 * 24 * hour, 7 * 24 * hour, 14 * 24 * hour];
    const step = steps.find((s) => span / s <= count) || 28 * 24 * hour;
    for (let t = Math.ceil(min / step) * step; t <= max; t += step) {
      const dt = new Date(t);
      const day = dt.getUTCFullYear() + '-' + pad2(dt.getUTCMonth() + 1) + '-' + pad2(dt.getUTCDate());
      out.push({t, label: step >= 24 * hour ? day : pad2(dt.getUTCHours()) + ':' + pad2(dt.getUTCMinutes())});
    }
    return out;
  }

  function defaultFormat(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toLocaleString(undefined, {maximumFractionDigits: 2}) + ' bn';
    if (a >= 1e6) return (v / 1e6).toLocaleString(undefined, {maximumFractionDigits: 2}) + ' m';
    return v.toLocaleString(undefined, {maximumSignificantDigits: 4});
  }

  function extent(opts) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of opts.series) {
      for (const p of s.points) {
        if (p.y === null || p.y === undefined || !isFinite(p.y)) continue;
        x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x);
        y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
      }
    }
    for (const b of opts.band || []) {
      if (b.lo === null || b.hi === null) continue;
      x0 = Math.min(x0, b.x); x1 = Math.max(x1, b.x);
      y0 = Math.min(y0, b.lo); y1 = Math.max(y1, b.hi);
    }
    return {x0, x1, y0, y1};
  }

  // yRange returns a padded [min, max] for values between lo and hi.
  function yRange(lo, hi) {
    if (!isFinite(lo)) return [0, 1];
    if (lo === hi) {
      const d = Math.abs(lo) * 0.1 || 1;
      return [lo - d, hi + d];
    }
    const pad = (hi - lo) * 0.05;
    return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
  }

  function line(opts) {
    const id = 'chart' + (++uid);
    const e = extent(opts);
    const [ymin, ymax] = opts.yDomain || yRange(e.y0, e.y1);
    let xmin = e.x0, xmax = e.x1;
    if (!isFinite(xmin)) { xmin = 0; xmax = 1; }
    if (xmin === xmax) { xmin -= YEAR_MS / 2; xmax += YEAR_MS / 2; }
    const iw = W - M.left - M.right, ih = H - M.top - M.bottom;
    const sx = (x) => M.left + (x - xmin) / (xmax - xmin) * iw;
    const sy = (y) => M.top + ih - (y - ymin) / (ymax - ymin) * ih;
    const yFormat = opts.yFormat || defaultFormat;

    const fig = document.createElement('figure');
    fig.className = 'chart';
    const cap = document.createElement('figcaption');
    cap.id = id + '-caption';
    cap.textContent = opts.title;
    fig.appendChild(cap);

    const root = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': cap.id,
      preserveAspectRatio: 'xMidYMid meet', class: 'chart-svg'}, fig);
    svg('title', {}, root).textContent = opts.title;

    const grid = svg('g', {class: 'grid', 'aria-hidden': 'true'}, root);
    for (const v of linearTicks(ymin, ymax, 5)) {
      const y = sy(v);
      svg('line', {x1: M.left, x2: W - M.right, y1: y, y2: y}, grid);
      svg('text', {x: M.left - 6, y: y + 4, class: 'tick y'}, grid).textContent = yFormat(v);
    }
    for (const tk of timeTicks(xmin, xmax, 7)) {
      const x = sx(tk.t);
      svg('line', {x1: x, x2: x, y1: M.top + ih, y2: M.top + ih + 5, class: 'tick-mark'}, grid);
      svg('text', {x, y: M.top + ih + 20, class: 'tick x'}, grid).textContent = tk.label;
    }
    svg('line', {x1: M.left, x2: W - M.right, y1: M.top + ih, y2: M.top + ih, class: 'axis'}, grid);
    svg('line', {x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih, class: 'axis'}, grid);

    if (opts.band && opts.band.length) {
      // One closed shape per run of points with both bounds.
      let run = [];
      const flush = () => {
        if (run.length > 0) {
          const up = run.map((b) => sx(b.x).toFixed(2) + ',' + sy(b.hi).toFixed(2));
          const down = run.slice().reverse().map((b) => sx(b.x).toFixed(2) + ',' + sy(b.lo).toFixed(2));
          svg('path', {d: 'M' + up.join('L') + 'L' + down.join('L') + 'Z', class: 'band'}, root);
        }
        run = [];
      };
      for (const b of opts.band) {
        if (b.lo === null || b.hi === null || b.lo === undefined || b.hi === undefined) flush();
        else run.push(b);
      }
      flush();
    }

    const dashed = opts.dashed || new Set();
    opts.series.forEach((s, i) => {
      let d = '', gap = true;
      for (const p of s.points) {
        if (p.y === null || p.y === undefined || !isFinite(p.y)) { gap = true; continue; }
        d += (gap ? 'M' : 'L') + sx(p.x).toFixed(2) + ',' + sy(p.y).toFixed(2);
        gap = false;
      }
      const path = svg('path', {d, class: 'series s' + (i % 8) + (dashed.has(i) ? ' dashed' : ''),
        'data-series': s.label}, root);
      if (s.key) path.setAttribute('data-key', s.key);
      const n = s.points.filter((p) => p.y !== null && p.y !== undefined && isFinite(p.y)).length;
      if (n <= 60) {
        for (const p of s.points) {
          if (p.y === null || p.y === undefined || !isFinite(p.y)) continue;
          svg('circle', {cx: sx(p.x).toFixed(2), cy: sy(p.y).toFixed(2), r: 2.5, class: 'dot s' + (i % 8)}, root);
        }
      }
    });

    // Hover: a rule at the nearest x with the values there.
    const hover = svg('g', {class: 'hover', 'aria-hidden': 'true', visibility: 'hidden'}, root);
    const rule = svg('line', {y1: M.top, y2: M.top + ih}, hover);
    const label = svg('text', {y: M.top + 12}, hover);
    const xs = Array.from(new Set(opts.series.flatMap((s) => s.points.map((p) => p.x)))).sort((a, b) => a - b);
    root.addEventListener('mousemove', (ev) => {
      const box = root.getBoundingClientRect();
      if (box.width === 0 || xs.length === 0) return;
      const x = (ev.clientX - box.left) / box.width * W;
      const t = xmin + (x - M.left) / iw * (xmax - xmin);
      let best = xs[0];
      for (const v of xs) if (Math.abs(v - t) < Math.abs(best - t)) best = v;
      const parts = [];
      for (const s of opts.series) {
        const p = s.points.find((q) => q.x === best);
        if (p && p.y !== null && p.y !== undefined) parts.push((opts.series.length > 1 ? s.label + ': ' : '') + (p.text || yFormat(p.y)));
      }
      const at = opts.xLabel ? opts.xLabel(best) : String(new Date(best).getUTCFullYear());
      const px = sx(best);
      rule.setAttribute('x1', px); rule.setAttribute('x2', px);
      label.textContent = at + '  ' + parts.join('  ');
      const right = px > M.left + iw / 2;
      label.setAttribute('x', right ? px - 6 : px + 6);
      label.setAttribute('text-anchor', right ? 'end' : 'start');
      hover.setAttribute('visibility', 'visible');
    });
    root.addEventListener('mouseleave', () => hover.setAttribute('visibility', 'hidden'));

    if (opts.series.length > 1 || (opts.band && opts.band.length)) {
      const legend = document.createElement('ul');
      legend.className = 'legend';
      opts.series.forEach((s, i) => {
        const li = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = 'swatch s' + (i % 8) + (dashed.has(i) ? ' dashed' : '');
        sw.setAttribute('aria-hidden', 'true');
        li.appendChild(sw);
        li.appendChild(document.createTextNode(s.label));
        legend.appendChild(li);
      });
      if (opts.band && opts.band.length) {
        const li = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = 'swatch band';
        sw.setAttribute('aria-hidden', 'true');
        li.appendChild(sw);
        li.appendChild(document.createTextNode(opts.bandLabel || 'interval'));
        legend.appendChild(li);
      }
      fig.appendChild(legend);
    }
    return fig;
  }

  // yDomainOf is the padded y range over several charts' series, for
  // charts meant to be read side by side.
  function yDomainOf(seriesLists) {
    const e = extent({series: seriesLists.flat()});
    return yRange(e.y0, e.y1);
  }

  global.OunceChart = {line, yDomainOf, linearTicks, timeTicks};
})(window);
