// Ounce dashboard: the indicator explorer, initiatives and feed health,
// drawn from the query API. Every response is kept with its ETag and asked
// for again with If-None-Match; a view redraws only when an answer is new.
'use strict';

(function () {
  // Poll interval: 30 s, or ?poll=<seconds> (at least 1) in the page URL.
  const POLL_MS = (() => {
    const v = Number(new URLSearchParams(location.search).get('poll'));
    return (isFinite(v) && v >= 1 ? v : 30) * 1000;
  })();

  // ---- HTTP ---------------------------------------------------------------

  const cache = new Map(); // url -> {etag, body}

  // The read token, when the server asks for one: kept for this tab only.
  const TOKEN_KEY = 'ounce.token';
  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (err) {
      return '';
    }
  }
  function authHeaders(headers) {
    const tok = token();
    if (tok) headers.Authorization = 'Bearer ' + tok;
    return headers;
  }

  // getJSON answers {ok, status, body, etag} or {ok: false, status, code, message}.
  // A 304 answers the body kept from the last 200, with the same etag.
  async function getJSON(url) {
    const prev = cache.get(url);
    const headers = authHeaders({Accept: 'application/json'});
    if (prev) headers['If-None-Match'] = prev.etag;
    let resp;
    try {
      resp = await fetch(url, {headers, cache: 'no-store'});
    } catch (err) {
      return {ok: false, status: 0, code: 'network', message: 'the server did not answer (' + err.message + ')'};
    }
    if (resp.status === 304 && prev) return {ok: true, status: 304, body: prev.body, etag: prev.etag};
    let body = null;
    try {
      body = await resp.json();
    } catch (err) {
      body = null;
    }
    if (resp.ok && body !== null) {
      const etag = resp.headers.get('ETag');
      if (etag) cache.set(url, {etag, body});
      return {ok: true, status: resp.status, body, etag: etag || 'none:' + Date.now()};
    }
    const e = body && body.error ? body.error : {};
    if (resp.status === 401) askToken(e.message);
    return {
      ok: false, status: resp.status, code: e.code || 'http_' + resp.status,
      message: e.message || (resp.ok ? 'the answer is not JSON' : resp.status + ' ' + resp.statusText),
    };
  }

  function askToken(why) {
    const form = $('token-form');
    if (!form.hidden) return;
    form.hidden = false;
    $('token-help').textContent = 'This server asks for a token to read data' + (why ? ' (' + why + ')' : '') +
      '. It is kept in this tab only.';
    $('token').focus();
  }

  function failure(what, r) {
    if (r.status === 404 && r.code === 'not_found') {
      return what + ' is not available on this server yet (the API answered 404 not_found).';
    }
    return what + ' failed: ' + r.message + (r.status ? ' (HTTP ' + r.status + (r.code ? ', ' + r.code : '') + ')' : '');
  }

  // ---- DOM ----------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function replace(id, ...nodes) {
    const box = $(id);
    box.replaceChildren(...nodes.filter((n) => n));
    return box;
  }

  function message(id, text, kind) {
    const box = $(id);
    box.textContent = text || '';
    box.className = 'message' + (text ? ' ' + (kind || 'error') : '');
  }

  function link(href, text) {
    if (!href || !/^https?:\/\//i.test(href)) return document.createTextNode(text || href || '');
    return el('a', {href, rel: 'noopener noreferrer', target: '_blank'}, text || href);
  }

  const numFmt = new Intl.NumberFormat(undefined, {maximumSignificantDigits: 12});
  const ratioFmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 4});
  // Estimates (counterfactuals, projections) are shown to 5 significant
  // digits; the exact value stays in the cell's data-value.
  const estFmt = new Intl.NumberFormat(undefined, {maximumSignificantDigits: 5});

  function est(v) {
    return v === null || v === undefined ? '—' : estFmt.format(v);
  }

  function num(v) {
    return v === null || v === undefined ? '—' : numFmt.format(v);
  }

  // money shows an amount readably: to the cent below a million, in three
  // significant digits with the locale's short scale above (£1.18bn); the
  // exact amount stays in the element's data-value and the JSON.
  function money(v, currency) {
    if (v === null || v === undefined) return '—';
    const compact = Math.abs(v) >= 1e6;
    try {
      return new Intl.NumberFormat(undefined, compact ?
        {style: 'currency', currency: currency || 'XXX', notation: 'compact', maximumSignificantDigits: 3} :
        {style: 'currency', currency: currency || 'XXX'}).format(v);
    } catch (err) {
      return (compact ? new Intl.NumberFormat(undefined, {notation: 'compact', maximumSignificantDigits: 3}) : numFmt).format(v) +
        (currency ? ' ' + currency : '');
    }
  }

  function when(iso) {
    if (!iso) return document.createTextNode('—');
    const d = new Date(iso);
    if (isNaN(d)) return document.createTextNode(String(iso));
    const text = d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    return el('time', {datetime: iso}, text);
  }

  // numCell is a table cell holding a number, with the exact value kept in
  // data-value for copying and checking.
  function numCell(v, text) {
    return el('td', {class: 'num', 'data-value': v === null || v === undefined ? '' : String(v)},
      text !== undefined ? text : num(v));
  }

  function table(caption, headers, rows, cls) {
    const thead = el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {scope: 'col'}, h))));
    return el('table', {class: cls || ''}, el('caption', {}, caption), thead, el('tbody', {}, ...rows));
  }

  function setStatus(text) {
    $('status').textContent = text;
  }

  function clock() {
    return new Date().toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', second: '2-digit'});
  }

  // periodStart turns a period code (2018, 2018-Q1, 2018-03, 2018-03-05,
  // 2019-08-25T12:30Z) into Unix milliseconds of its start.
  function periodStart(code) {
    const s = String(code);
    let m;
    if ((m = /^(\d{4})$/.exec(s))) return Date.UTC(+m[1], 0, 1);
    if ((m = /^(\d{4})-Q([1-4])$/.exec(s))) return Date.UTC(+m[1], (+m[2] - 1) * 3, 1);
    if ((m = /^(\d{4})-(\d{2})$/.exec(s))) return Date.UTC(+m[1], +m[2] - 1, 1);
    if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s))) return Date.UTC(+m[1], +m[2] - 1, +m[3]);
    const t = Date.parse(s);
    return isNaN(t) ? null : t;
  }

  function provenanceList(id, items) {
    if (!Array.isArray(items) || items.length === 0) {
      replace(id);
      return;
    }
    const rows = items.map((p) => {
      const known = ['role', 'indicator', 'geo', 'source', 'url', 'licence', 'retrieved_at'];
      const extra = Object.keys(p).filter((k) => !known.includes(k))
        .map((k) => k + ': ' + (typeof p[k] === 'object' ? JSON.stringify(p[k]) : p[k])).join('; ');
      return el('tr', {},
        el('td', {}, p.role || '—'), el('td', {}, p.indicator || '—'), el('td', {}, p.geo || '—'),
        el('td', {}, p.url ? link(p.url, p.source || p.url) : (p.source || '—')),
        el('td', {}, p.licence || '—'), el('td', {}, when(p.retrieved_at)), el('td', {}, extra || ''));
    });
    replace(id, el('div', {class: 'table-wrap'},
      table('Where these numbers came from', ['Role', 'Indicator', 'Place', 'Source', 'Licence', 'Retrieved', 'Notes'], rows, 'provenance')));
  }

  // ---- Indicator explorer ---------------------------------------------------

  const explorer = {
    indicators: [],
    indicatorsTag: '',
    seriesTag: '',
    url: '',
    query: null,

    places: new Map(), // code -> name
    placesTag: '',

    async refresh(force) {
      const r = await getJSON('/v1/indicators');
      if (!r.ok) {
        message('explorer-message', failure('Listing the indicators', r));
        return false;
      }
      const rp = await getJSON('/v1/places');
      if (rp.ok && rp.etag !== this.placesTag) {
        this.placesTag = rp.etag;
        this.fillPlaces(rp.body.places || []);
      }
      let changed = false;
      if (force || r.etag !== this.indicatorsTag) {
        this.indicatorsTag = r.etag;
        this.indicators = r.body.indicators || [];
        this.fillIndicators();
        changed = true;
      }
      if (this.query) changed = (await this.loadSeries(force)) || changed;
      return changed;
    },

    fillIndicators() {
      const sel = $('indicator');
      const keep = sel.value || (this.query && this.query.indicator) || '';
      const groups = new Map();
      for (const ind of this.indicators) {
        if (!groups.has(ind.domain)) groups.set(ind.domain, []);
        groups.get(ind.domain).push(ind);
      }
      const nodes = [];
      for (const [domain, inds] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
        nodes.push(el('optgroup', {label: domain || 'other'}, ...inds.map((ind) =>
          el('option', {value: ind.code}, ind.name + ' — ' + ind.code +
            (ind.coverage && ind.coverage.rows ? '' : ' (no data)')))));
      }
      sel.replaceChildren(...nodes);
      const withData = this.indicators.find((ind) => ind.coverage && ind.coverage.rows > 0);
      if (keep && this.indicators.some((ind) => ind.code === keep)) sel.value = keep;
      else if (withData) sel.value = withData.code;
      this.showIndicator();
    },

    fillPlaces(list) {
      this.places = new Map(list.map((p) => [p.code, p.name]));
      $('place-list').replaceChildren(...list.map((p) => el('option', {value: p.code, label: p.name + ' (' + p.level + ')'})));
    },

    addPlace() {
      const box = $('add-place');
      const v = box.value.trim();
      if (!v) return;
      let code = this.places.has(v) ? v : '';
      if (!code) {
        for (const [c, name] of this.places) {
          if (name.toLowerCase() === v.toLowerCase()) code = c;
        }
      }
      if (!code) return; // still typing
      const geos = $('places').value.split(',').map((g) => g.trim()).filter((g) => g);
      if (!geos.includes(code)) geos.push(code);
      $('places').value = geos.join(',');
      box.value = '';
    },

    placeName(geo) {
      const name = this.places.get(geo);
      return name ? geo + ' (' + name + ')' : geo;
    },

    showIndicator() {
      const ind = this.indicators.find((i) => i.code === $('indicator').value);
      if (!ind) {
        replace('indicator-info');
        return;
      }
      const c = ind.coverage || {};
      const dl = el('dl', {class: 'facts'},
        el('dt', {}, 'Unit'), el('dd', {}, ind.unit),
        el('dt', {}, 'Better when'), el('dd', {}, ind.polarity === 'lower' ? 'lower' : ind.polarity === 'higher' ? 'higher' : 'neither'),
        el('dt', {}, 'Producer'), el('dd', {}, link(ind.url, ind.producer || ind.url)),
        el('dt', {}, 'Licence'), el('dd', {}, ind.licence),
        el('dt', {}, 'Stored'), el('dd', {}, c.rows ? num(c.rows) + ' values for ' + num(c.places) + ' places, ' + c.first + ' to ' + c.last : 'nothing yet'),
        el('dt', {}, 'Last loaded'), el('dd', {}, when(c.last_loaded_at)));
      replace('indicator-info', ind.description ? el('p', {}, ind.description) : null, dl);
    },

    readForm() {
      const geos = $('places').value.split(',').map((s) => s.trim()).filter((s) => s);
      return {indicator: $('indicator').value, geos: [...new Set(geos)], from: $('from').value.trim(), to: $('to').value.trim()};
    },

    seriesURL(q) {
      let u = '/v1/series?indicator=' + encodeURIComponent(q.indicator) + '&geo=' + q.geos.map(encodeURIComponent).join(',');
      if (q.from) u += '&from=' + encodeURIComponent(q.from);
      if (q.to) u += '&to=' + encodeURIComponent(q.to);
      return u;
    },

    async submit() {
      const q = this.readForm();
      if (!q.indicator) {
        message('explorer-message', 'Pick an indicator.');
        return;
      }
      if (q.geos.length === 0) {
        message('explorer-message', 'Name at least one place, e.g. GBR,FRA.');
        $('places').focus();
        return;
      }
      this.query = q;
      const h = new URLSearchParams({indicator: q.indicator, geo: q.geos.join(',')});
      if (q.from) h.set('from', q.from);
      if (q.to) h.set('to', q.to);
      history.replaceState(null, '', '#explorer?' + h.toString());
      await this.loadSeries(true);
      setStatus('Updated at ' + clock());
    },

    async loadSeries(force) {
      const view = $('view-explorer');
      this.inflight = (this.inflight || 0) + 1;
      view.setAttribute('aria-busy', 'true');
      try {
        return await this.loadSeriesOnce(force);
      } finally {
        if (--this.inflight === 0) view.removeAttribute('aria-busy');
      }
    },

    async loadSeriesOnce(force) {
      const q = this.query;
      const url = this.seriesURL(q);
      const csv = $('csv-link');
      csv.href = url + '&format=csv';
      csv.hidden = false;
      const r = await getJSON(url);
      if (q !== this.query) return false; // a newer request took over
      if (!r.ok) {
        this.seriesTag = '';
        message('explorer-message', failure('Reading the series', r));
        replace('explorer-charts');
        replace('explorer-table');
        return true;
      }
      if (!force && r.etag === this.seriesTag && url === this.url) return false;
      this.seriesTag = r.etag;
      this.url = url;
      this.drawSeries(q, r.body);
      return true;
    },

    drawSeries(q, resp) {
      const ind = resp.indicator;
      const series = resp.series || [];
      const found = new Set(series.map((s) => s.geo));
      const missing = q.geos.filter((g) => !found.has(g));
      const range = (q.from || q.to) ? ' between ' + (q.from || 'the first period') + ' and ' + (q.to || 'the last') : '';
      if (series.length === 0) {
        message('explorer-message', 'Nothing is stored for ' + ind.name + ' in ' + q.geos.join(', ') + range + '.', 'info');
      } else if (missing.length) {
        message('explorer-message', 'Nothing is stored for ' + missing.join(', ') + range + '.', 'info');
      } else {
        message('explorer-message', '');
      }

      // One chart per place, on one y scale so they read side by side.
      const byGeo = new Map();
      for (const s of series) {
        if (!byGeo.has(s.geo)) byGeo.set(s.geo, []);
        byGeo.get(s.geo).push(s);
      }
      const toChart = (s) => ({
        label: dimsLabel(s.dims),
        key: s.geo + (Object.keys(s.dims || {}).length ? '|' + dimsLabel(s.dims) : ''),
        points: s.points.map((p) => ({x: Date.parse(p.start), y: p.value, text: num(p.value) + ' ' + p.unit})),
      });
      const lists = [...byGeo.values()].map((ss) => ss.map(toChart));
      const yDomain = OunceChart.yDomainOf(lists);
      const figs = [];
      for (const [geo, ss] of byGeo) {
        const fig = OunceChart.line({
          title: this.placeName(geo) + ': ' + ind.name + ' (' + ind.unit + ')',
          series: ss.map(toChart),
          yDomain,
          xLabel: (t) => {
            const p = ss[0].points.find((pt) => Date.parse(pt.start) === t);
            return p ? p.period : new Date(t).toISOString().slice(0, 10);
          },
        });
        fig.setAttribute('data-geo', geo);
        figs.push(fig);
      }
      replace('explorer-charts', ...figs);
      for (const fig of figs) {
        for (const path of fig.querySelectorAll('path.series')) path.setAttribute('data-geo', fig.getAttribute('data-geo'));
      }

      const hasDims = series.some((s) => Object.keys(s.dims || {}).length);
      const meaning = new Map((resp.flags || []).map((f) => [f.source + '|' + f.flag, f.meaning]));
      const flagText = (p) => {
        const parts = [];
        for (const l of p.flag || '') parts.push(l + ' ' + (meaning.get(p.source + '|' + l) || 'unknown flag'));
        for (const q of p.quality || []) parts.push(q.replace(/_/g, ' '));
        return parts.join('; ');
      };
      const limit = 5000;
      const rows = [];
      for (const s of series) {
        for (const p of s.points) {
          if (rows.length >= limit) break;
          const pv = p.provenance || {};
          rows.push(el('tr', {'data-geo': s.geo, 'data-period': p.period},
            el('th', {scope: 'row', title: this.places.get(s.geo) || null}, s.geo),
            hasDims ? el('td', {}, dimsLabel(s.dims)) : null,
            el('td', {}, p.period),
            numCell(p.value),
            el('td', {}, p.unit),
            el('td', {class: 'source'}, link(pv.url, p.source)),
            el('td', {class: 'licence'}, pv.licence || '—'),
            el('td', {class: 'retrieved'}, when(pv.retrieved_at)),
            el('td', {class: 'flags'}, flagText(p))));
        }
      }
      const headers = ['Place'].concat(hasDims ? ['Breakdown'] : [], ['Period', 'Value', 'Unit', 'Source', 'Licence', 'Retrieved', 'Flags']);
      const note = resp.count > limit ?
        el('p', {class: 'note'}, 'The first ' + num(limit) + ' of ' + num(resp.count) + ' values are listed; download the CSV for all.') : null;
      replace('explorer-table', table(ind.name + ' (' + ind.unit + ') by place and period, with the source, licence and retrieval time of every value',
        headers, rows, 'values'), note);
    },

    fromHash(params) {
      if (!params.get('indicator')) return;
      this.query = {
        indicator: params.get('indicator'),
        geos: (params.get('geo') || '').split(',').filter((s) => s),
        from: params.get('from') || '', to: params.get('to') || '',
      };
      $('places').value = this.query.geos.join(',');
      $('from').value = this.query.from;
      $('to').value = this.query.to;
      if (this.indicators.length) $('indicator').value = this.query.indicator;
    },
  };

  function dimsLabel(dims) {
    const keys = Object.keys(dims || {}).sort();
    return keys.length ? keys.map((k) => k + '=' + dims[k]).join(', ') : 'total';
  }

  // ---- Initiatives -----------------------------------------------------------

  const initiatives = {
    list: [],
    listTag: '',
    costTag: '',
    drawn: {},
    seq: 0,
    inflight: 0,

    async refresh(force) {
      const r = await getJSON('/v1/initiatives');
      if (!r.ok) {
        this.listTag = '';
        message('initiatives-message', failure('The initiative list', r), r.status === 404 ? 'info' : 'error');
        $('initiative-form').hidden = true;
        $('savings').hidden = true;
        $('compare').hidden = true;
        replace('initiative-info');
        return true;
      }
      let changed = false;
      if (force || r.etag !== this.listTag) {
        this.listTag = r.etag;
        this.list = r.body.initiatives || [];
        this.fillList();
        changed = true;
      }
      if (this.list.length === 0) return changed;
      const ri = await getJSON('/v1/indicators');
      if (ri.ok && (force || ri.etag !== this.costTag)) {
        this.costTag = ri.etag;
        this.fillCosts(ri.body.indicators || []);
        changed = true;
      }
      return (await this.load(force || changed)) || changed;
    },

    fillList() {
      if (this.list.length === 0) {
        message('initiatives-message', 'No initiative is registered yet. Register one with POST /v1/initiatives (see /openapi.yaml).', 'info');
        $('initiative-form').hidden = true;
        $('savings').hidden = true;
        $('compare').hidden = true;
        return;
      }
      message('initiatives-message', '');
      const sel = $('initiative');
      const keep = sel.value;
      sel.replaceChildren(...this.list.map((it) => el('option', {value: it.id}, (it.name || it.id) + ' — ' + it.id)));
      if (keep && this.list.some((it) => it.id === keep)) {
        sel.value = keep;
      } else {
        const it = this.list[0];
        if (it.method) $('method').value = it.method;
      }
      $('initiative-form').hidden = false;
    },

    fillCosts(inds) {
      const sel = $('cost-indicator');
      const keep = sel.value;
      const costs = inds.filter((i) => i.domain === 'cost');
      const pool = costs.length ? costs : inds;
      sel.replaceChildren(...pool.map((i) => el('option', {value: i.code}, i.name + ' — ' + i.code +
        (i.coverage && i.coverage.rows ? '' : ' (no data)'))));
      const withData = pool.find((i) => i.coverage && i.coverage.rows > 0);
      if (keep && pool.some((i) => i.code === keep)) sel.value = keep;
      else if (withData) sel.value = withData.code;
    },

    current() {
      return this.list.find((it) => it.id === $('initiative').value);
    },

    // load reads and draws the chosen initiative's report and comparison.
    // Only the newest of overlapping loads draws; the view is aria-busy
    // while any is in flight.
    async load(force) {
      const seq = ++this.seq;
      const view = $('view-initiatives');
      this.inflight++;
      view.setAttribute('aria-busy', 'true');
      try {
        return await this.loadLatest(force, seq);
      } finally {
        if (--this.inflight === 0) view.removeAttribute('aria-busy');
      }
    },

    async loadLatest(force, seq) {
      const it = this.current();
      if (!it) return false;
      if (force) this.showInitiative(it);
      const method = $('method').value;
      const preFrom = $('pre-from').value.trim();
      const pre = preFrom ? '&pre_from=' + encodeURIComponent(preFrom) : '';
      const savingsURL = '/v1/initiatives/' + encodeURIComponent(it.id) + '/savings?method=' + encodeURIComponent(method) + pre;
      const cost = $('cost-indicator').value;
      const compareURL = cost ? '/v1/compare?initiatives=' + encodeURIComponent(it.id) +
        '&cost_indicator=' + encodeURIComponent(cost) + '&geo=' + encodeURIComponent(it.geo || '') +
        '&method=' + encodeURIComponent(method) + pre : '';
      const methodsURL = '/v1/initiatives/' + encodeURIComponent(it.id) + '/savings/methods' + (pre ? '?' + pre.slice(1) : '');
      const [rs, rc, rm] = await Promise.all([getJSON(savingsURL), compareURL ? getJSON(compareURL) : null, getJSON(methodsURL)]);
      if (seq !== this.seq) return false; // a newer load took over
      $('savings').hidden = false;
      let changed = this.drawPart('savings', savingsURL, rs, force, 'The savings of ' + it.id + ' by ' + method,
        (body) => this.drawSavings(it, body), ['savings-chart', 'savings-totals', 'savings-table', 'savings-diagnostics', 'savings-warnings', 'savings-provenance']);
      changed = this.drawPart('methods', methodsURL, rm, force, 'The methods side by side', (body) => this.drawMethods(body), ['savings-methods']) || changed;
      $('compare').hidden = !rc;
      if (rc) {
        changed = this.drawPart('compare', compareURL, rc, force, 'The comparison with ' + cost,
          (body) => this.drawCompare(it, body), ['compare-chart', 'compare-table', 'compare-provenance']) || changed;
      }
      return changed;
    },

    // drawPart draws one answer (r, from url) into the section name unless
    // it is what is drawn already; an error answer empties the boxes and
    // shows the API's message. It reports whether it drew.
    drawPart(name, url, r, force, what, draw, boxes) {
      const key = url + ' ' + (r.ok ? r.etag : 'error ' + r.status + r.message);
      if (!force && this.drawn[name] === key) return false;
      this.drawn[name] = key;
      if (r.ok) {
        message(name + '-message', '');
        draw(r.body);
      } else {
        message(name + '-message', failure(what, r));
        for (const id of boxes) replace(id);
      }
      return true;
    },

    showInitiative(it) {
      const dl = el('dl', {class: 'facts'},
        el('dt', {}, 'Target indicator'), el('dd', {}, it.indicator || '—'),
        el('dt', {}, 'Place'), el('dd', {}, it.geo || '—'),
        el('dt', {}, 'Years'), el('dd', {}, (it.start_year || '?') + ' to ' + (it.end_year || 'now')),
        el('dt', {}, 'Domain'), el('dd', {}, it.domain || '—'),
        el('dt', {}, 'Comparison places'), el('dd', {}, (it.comparison_geos || []).join(', ') || '—'));
      replace('initiative-info', el('h3', {}, it.name || it.id), dl);
    },

    drawSavings(it, rep) {
      const years = rep.years || [];
      const cur = rep.currency;
      const hasSeries = years.some((y) => y.observed !== null && y.observed !== undefined) ||
        years.some((y) => y.counterfactual !== null && y.counterfactual !== undefined);
      if (hasSeries) {
        const x = (y) => Date.UTC(y.calendar_year, 0, 1);
        const at = (year) => Date.UTC(year, 0, 1);
        // The pre-period the counterfactual was fitted to, then the report's
        // years: ITS gives the points and its line, synth its synthetic path.
        const diag = rep.diagnostics || {};
        const pre = (diag.its && diag.its.pre) || [];
        const fitted = (diag.its && diag.its.fitted) || [];
        const synth = rep.synth;
        const preObserved = pre.map((p) => ({x: at(p.year), y: p.value}));
        const preCounterfactual = fitted.map((p) => ({x: at(p.year), y: p.value}));
        if (synth && synth.years) {
          for (const sy of synth.years) {
            if (sy.period === 'pre') {
              preObserved.push({x: at(sy.year), y: sy.observed});
              preCounterfactual.push({x: at(sy.year), y: sy.synthetic});
            }
          }
        }
        const cfLabel = rep.method === 'its' ? 'fitted line and counterfactual' : rep.method === 'synth' ? 'synthetic control' : 'counterfactual';
        replace('savings-chart', OunceChart.line({
          title: 'Observed and counterfactual ' + (it.indicator || '') + ' in ' + (it.geo || '') + ' (' + rep.method + ')' +
            (preObserved.length ? ', with the pre-period from ' + new Date(preObserved[0].x).getUTCFullYear() : ''),
          series: [
            {label: 'observed', points: preObserved.concat(years.map((y) => ({x: x(y), y: y.observed})))},
            {label: cfLabel, points: preCounterfactual.concat(years.map((y) => ({x: x(y), y: y.counterfactual})))},
          ],
          dashed: new Set([1]),
          band: years.map((y) => ({x: x(y), lo: y.counterfactual_low, hi: y.counterfactual_high})),
          bandLabel: 'counterfactual interval',
          xLabel: (t) => String(new Date(t).getUTCFullYear()),
        }));
      } else {
        replace('savings-chart', el('p', {class: 'note'}, 'The ' + rep.method +
          ' method estimates avoided outcomes from the cohort, not from an observed series: there is no observed line to draw.'));
      }

      const t = rep.totals || {};
      const byAgency = t.pv_benefits_by_agency || {};
      const has = (v) => v !== null && v !== undefined;
      const ratio = (v) => has(v) ? ratioFmt.format(v) : '—';
      const dl = el('dl', {class: 'totals'},
        el('dt', {}, 'PV benefits'), el('dd', {'data-total': 'pv_benefits', 'data-value': t.pv_benefits}, money(t.pv_benefits, cur) +
          (has(t.pv_benefits_low) ? ' (' + money(t.pv_benefits_low, cur) + ' – ' + money(t.pv_benefits_high, cur) + ')' : '')),
        ...Object.keys(byAgency).sort().flatMap((a) => [
          el('dt', {class: 'sub'}, 'of which ' + a),
          el('dd', {'data-total': 'pv_benefits_by_agency', 'data-agency': a, 'data-value': byAgency[a]}, money(byAgency[a], cur))]),
        el('dt', {}, 'PV costs'), el('dd', {'data-total': 'pv_costs', 'data-value': t.pv_costs}, money(t.pv_costs, cur)),
        el('dt', {}, 'Net present value'), el('dd', {'data-total': 'npv', 'data-value': t.npv}, money(t.npv, cur) +
          (has(t.npv_low) ? ' (' + money(t.npv_low, cur) + ' – ' + money(t.npv_high, cur) + ')' : '')),
        el('dt', {}, 'Benefit-cost ratio (ROI)'), el('dd', {'data-total': 'roi', 'data-value': has(t.roi) ? t.roi : ''}, ratio(t.roi) +
          (has(t.roi_low) ? ' (' + ratio(t.roi_low) + ' – ' + ratio(t.roi_high) + ')' : '')),
        has(t.net_roi) ? el('dt', {}, 'Net ROI') : null,
        has(t.net_roi) ? el('dd', {'data-total': 'net_roi', 'data-value': t.net_roi}, ratio(t.net_roi)) : null,
        has(t.sroi_ratio) ? el('dt', {}, 'SROI ratio') : null,
        has(t.sroi_ratio) ? el('dd', {'data-total': 'sroi_ratio', 'data-value': t.sroi_ratio}, ratio(t.sroi_ratio)) : null,
        el('dt', {}, 'Payback'), el('dd', {'data-total': 'payback_years', 'data-value': has(t.payback_years) ? t.payback_years : ''},
          (has(t.payback_years) ? ratioFmt.format(t.payback_years) + ' years' : 'not within the horizon') +
          (t.interval ? ' (' + (has(t.payback_years_low) ? ratioFmt.format(t.payback_years_low) : '?') + ' – ' +
            (has(t.payback_years_high) ? ratioFmt.format(t.payback_years_high) + ' years' : 'never') + ')' : '')),
        t.interval ? el('dt', {}, 'Ranges') : null,
        t.interval ? el('dd', {class: 'note'}, 'Each range takes the counterfactual\'s 95 % interval at its low, then its high, end in every year at once, costs unchanged: a bound from yearly intervals, not a joint probability.') : null);
      replace('savings-totals', el('h4', {}, 'Totals'), dl);

      const rows = years.map((y) => el('tr', {'data-year': y.calendar_year},
        el('th', {scope: 'row'}, String(y.year)), el('td', {}, String(y.calendar_year)),
        numCell(y.observed), numCell(y.counterfactual, est(y.counterfactual)),
        el('td', {class: 'num'}, y.counterfactual_low === null || y.counterfactual_low === undefined ? '—' :
          est(y.counterfactual_low) + ' – ' + est(y.counterfactual_high)),
        numCell(y.avoided, y.avoided === null || y.avoided === undefined ? '—' : est(y.avoided) +
          (y.avoided_low === null || y.avoided_low === undefined ? '' : ' (' + est(y.avoided_low) + ' – ' + est(y.avoided_high) + ')')),
        numCell(y.benefit, money(y.benefit, cur)), numCell(y.cost, money(y.cost, cur)),
        numCell(y.discount_factor, y.discount_factor === null || y.discount_factor === undefined ? '—' : ratioFmt.format(y.discount_factor)),
        numCell(y.pv_benefit, money(y.pv_benefit, cur)), numCell(y.pv_cost, money(y.pv_cost, cur)),
        numCell(y.cumulative_net_pv, money(y.cumulative_net_pv, cur))));
      replace('savings-table', table('Savings of ' + (it.name || it.id) + ' by year (' + rep.method + ', ' + (cur || 'no currency') + ')',
        ['Year', 'Calendar year', 'Observed', 'Counterfactual', 'Counterfactual interval', 'Avoided (interval)', 'Benefit', 'Cost',
          'Discount factor', 'PV benefit', 'PV cost', 'Cumulative net PV'], rows, 'savings'));
      provenanceList('savings-provenance', rep.provenance);
      this.drawDiagnostics(rep);
      const warnings = rep.warnings || [];
      replace('savings-warnings', warnings.length ? el('div', {class: 'warnings', role: 'note'},
        el('h3', {}, 'Before you defend these figures'),
        el('ul', {}, ...warnings.map((w) => el('li', {'data-year': w.year, 'data-period': w.period}, w.message)))) : null);
    },

    // drawDiagnostics lists how far to trust the counterfactual.
    drawDiagnostics(rep) {
      const d = rep.diagnostics || {};
      const f = (v) => v === null || v === undefined ? '—' : num(v);
      const ci = (i) => i ? f(i.estimate) + ' (' + f(i.low) + ' to ' + f(i.high) + ')' : '—';
      const items = [];
      if (d.its) {
        items.push(el('dt', {}, 'Pre-period slope per year'), el('dd', {'data-diag': 'slope'}, ci(d.its.slope)),
          el('dt', {}, 'R²'), el('dd', {'data-diag': 'r_squared'}, f(d.its.r_squared)),
          el('dt', {}, 'Durbin–Watson'), el('dd', {'data-diag': 'durbin_watson'}, f(d.its.durbin_watson)));
        if (d.its.segmented) {
          items.push(el('dt', {}, 'Level change at the start (segmented)'), el('dd', {'data-diag': 'level_change'}, ci(d.its.segmented.level_change)),
            el('dt', {}, 'Slope change at the start (segmented)'), el('dd', {'data-diag': 'slope_change'}, ci(d.its.segmented.slope_change)));
        }
      }
      if (d.did) {
        items.push(el('dt', {}, 'Pre-period gap slope (parallel trends)'), el('dd', {'data-diag': 'gap_slope'}, ci(d.did.gap_slope)),
          el('dt', {}, 'Comparison places'), el('dd', {'data-diag': 'places'},
            (d.did.places || []).map((p) => p.geo + (p.used ? '' : ' (not used: ' + p.reason + ')')).join(', ') || '—'));
      }
      const sy = rep.synth;
      if (sy) {
        const ws = (sy.weights || []).filter((w) => w.weight > 0).map((w) => w.geo + ' ' + ratioFmt.format(w.weight));
        items.push(el('dt', {}, 'Donor weights'), el('dd', {'data-diag': 'weights'}, ws.join(', ') || '—'),
          el('dt', {}, 'Pre-period RMSPE'), el('dd', {'data-diag': 'rmspe_pre'}, f(sy.rmspe_pre)),
          el('dt', {}, 'Placebo p-value'), el('dd', {'data-diag': 'p_value'}, f(sy.p_value)));
      }
      replace('savings-diagnostics', items.length ? el('div', {}, el('h4', {}, 'How far to trust the counterfactual'),
        el('dl', {class: 'facts'}, ...items)) : null);
    },

    // drawMethods lays every method side by side.
    drawMethods(body) {
      const cur = body.currency;
      const rows = (body.methods || []).map((m) => el('tr', {'data-method': m.method},
        el('th', {scope: 'row'}, m.method + (m.method === body.own ? ' (own)' : '')),
        el('td', {}, m.applies ? 'yes' : 'no'),
        numCell(m.totals ? m.totals.npv : null, m.totals ? money(m.totals.npv, cur) : '—'),
        numCell(m.totals ? m.totals.pv_benefits : null, m.totals ? money(m.totals.pv_benefits, cur) : '—'),
        el('td', {}, m.applies ? (m.warnings || []).map((w) => w.code).join(', ') || '—' : (m.skipped ? m.skipped.message : ''))));
      const note = body.npv_range ? el('p', {class: 'note'}, 'NPV ranges from ' + money(body.npv_range[0], cur) + ' to ' +
        money(body.npv_range[1], cur) + ' over the methods that apply.') : null;
      replace('savings-methods', table('Every method side by side', ['Method', 'Applies', 'NPV', 'PV benefits', 'Warnings, or why not'], rows, 'methods'), note);
    },

    drawCompare(it, body) {
      const list = compareList(body);
      const notes = [];
      const figs = [];
      const rows = [];
      const prov = [];
      for (const c of list) {
        figs.push(OunceChart.line({
          title: (c.indicator || 'cost') + (c.unit ? ' (' + c.unit + ')' : '') + ' in ' + (c.geo || it.geo) + ': recorded and projected' +
            (list.length > 1 ? ', beside ' + c.id : ''),
          series: [{label: 'recorded', points: c.series}].concat(c.projection.length ?
            [{label: 'projected trend', points: c.projection.map((p) => ({x: p.x, y: p.y}))}] : []),
          dashed: new Set([1]),
          band: c.projection.some((p) => p.lo !== undefined) ? c.projection : undefined,
          bandLabel: '95 % interval of the projection',
          xLabel: (t) => String(new Date(t).getUTCFullYear()),
        }));
        for (const y of c.years) {
          const proj = y.cost_projected;
          const range = y.cost_projected_low !== undefined && y.cost_projected_low !== null ?
            ' (' + est(y.cost_projected_low) + ' – ' + est(y.cost_projected_high) + ')' : '';
          rows.push(el('tr', {'data-year': y.calendar_year},
            el('th', {scope: 'row'}, c.id), el('td', {}, String(y.calendar_year)),
            numCell(y.savings, money(y.savings, c.currency)),
            y.pv_savings !== undefined ? numCell(y.pv_savings, money(y.pv_savings, c.currency)) : el('td', {}, '—'),
            numCell(y.cost_observed),
            numCell(proj, proj === undefined || proj === null ? '—' : est(proj) + range),
            y.projected_rise !== null && y.projected_rise !== undefined ?
              numCell(y.projected_rise, money(y.projected_rise, c.currency)) :
              numCell(y.projected_rise_unit, y.projected_rise_unit === undefined ? '—' : est(y.projected_rise_unit) + (c.unit ? ' ' + c.unit : '')),
            numCell(y.share_offset, y.share_offset === null || y.share_offset === undefined ? '—' : ratioFmt.format(y.share_offset)),
            el('td', {}, y.note || '')));
        }
        prov.push(...(c.provenance || []));
        const conv = c.conversion;
        if (conv) {
          notes.push(conv.kind === 'none' ? c.id + ': no figure in money — ' + conv.reason :
            c.id + ': cost in ' + c.currency + ' as ' + conv.formula + ' (' + conv.prices + ')');
        }
      }
      replace('compare-chart', ...figs);
      const unit = list.length && list[0].unit ? ' (' + list[0].unit + ')' : '';
      replace('compare-table', table('Yearly savings beside the recorded and projected ' + (list.length ? list[0].indicator : 'cost') + unit,
        ['Initiative', 'Calendar year', 'Savings', 'PV savings', 'Cost recorded', 'Cost projected (95 % interval)', 'Projected rise since start (in money where converted)', 'Share offset', 'Note'],
        rows, 'compare'), ...notes.map((n) => el('p', {class: 'note'}, n)));
      provenanceList('compare-provenance', prov);
    },
  };

  // compareList reads GET /v1/compare: {"comparisons": [...]} with a
  // projection object per initiative, or the flatter shape of one cost
  // series with a list of initiatives.
  function compareList(body) {
    const year = (y) => Date.UTC(y, 0, 1);
    if (Array.isArray(body.comparisons)) {
      return body.comparisons.map((c) => ({
        id: c.initiative, currency: c.currency,
        indicator: (c.cost_indicator || {}).indicator, geo: (c.cost_indicator || {}).geo, unit: (c.cost_indicator || {}).unit,
        series: (c.series || []).map((p) => ({x: year(p.year), y: p.value})),
        projection: ((c.projection || {}).points || []).map((p) => ({x: year(p.year), y: p.value, lo: p.low, hi: p.high})),
        years: c.years || [], provenance: c.provenance || [], conversion: c.conversion || null,
      }));
    }
    const series = (body.series || []).map((p) => ({x: p.year !== undefined ? year(p.year) : periodStart(p.period), y: p.value}))
      .filter((p) => p.x !== null);
    const projection = (Array.isArray(body.projection) ? body.projection : []).map((p) => ({x: year(p.year), y: p.value}));
    const ci = body.cost_indicator;
    return (body.initiatives || []).map((ini, i) => ({
      id: ini.id, currency: ini.currency, indicator: typeof ci === 'object' && ci ? ci.code || ci.indicator : ci,
      geo: body.geo, unit: typeof ci === 'object' && ci ? ci.unit : '',
      series, projection, years: ini.years || [], provenance: i === 0 ? body.provenance || [] : [],
    }));
  }

  // ---- Feed health -----------------------------------------------------------

  const feeds = {
    tag: '',

    async refresh(force) {
      const r = await getJSON('/v1/feeds');
      const key = r.ok ? r.etag : 'error ' + r.status + r.message;
      if (!force && key === this.tag) return false;
      this.tag = key;
      if (!r.ok) {
        message('feeds-message', failure('Feed health', r), r.status === 404 ? 'info' : 'error');
        replace('feeds-table');
        return true;
      }
      const list = r.body.feeds || [];
      message('feeds-message', list.length ? '' : 'No feed is declared.', 'info');
      const states = {ok: 'ok', partial: 'partial', failing: 'failing', never_run: 'not run yet'};
      const rows = list.map((f) => {
        const err = errorText(f.last_error);
        const status = f.status || (err ? 'failing' : f.last_success ? 'ok' : 'never_run');
        const state = (states[status] || status) +
          (f.consecutive_failures > 1 ? ' (' + f.consecutive_failures + ' runs)' : '') +
          (f.missing ? ': ' + f.missing : '');
        const about = [f.format, f.domain, f.licence].filter((x) => x).join(' · ');
        return el('tr', {class: 'feed-' + status, 'data-feed': f.id, 'data-status': status},
          el('th', {scope: 'row'}, f.url ? link(f.url, f.id) : f.id, el('small', {class: 'about'}, about)),
          el('td', {class: 'state'}, state),
          el('td', {}, when(f.last_success)), el('td', {}, when(f.last_attempt)),
          el('td', {class: 'error-text'}, err || '—'),
          numCell(f.rows), numCell(f.observations), numCell(f.duration_seconds),
          el('td', {}, when(f.next_run)));
      });
      replace('feeds-table', table('Feeds: state, last success, last error, and rows, observations and seconds of the last run',
        ['Feed', 'State', 'Last success', 'Last attempt', 'Last error', 'Rows', 'Observations', 'Seconds', 'Next run'], rows, 'feeds'));
      return true;
    },
  };

  function errorText(e) {
    if (!e) return '';
    if (typeof e === 'string') return e;
    if (typeof e === 'object') {
      const msg = e.message || e.error || JSON.stringify(e);
      const at = e.time || e.at;
      const d = at ? new Date(at) : null;
      return (d && !isNaN(d) ? d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC: ' : '') + msg;
    }
    return String(e);
  }

  // downloadWithToken saves the server's file at url, fetched with the
  // token (a plain link cannot send one).
  async function downloadWithToken(url) {
    try {
      const resp = await fetch(url, {headers: authHeaders({}), cache: 'no-store'});
      if (!resp.ok) {
        let msg = resp.status + ' ' + resp.statusText;
        try {
          const env = await resp.json();
          if (env.error) msg = env.error.message;
        } catch (err) { /* not the envelope */ }
        message('explorer-message', 'The CSV download failed: ' + msg);
        return;
      }
      const blob = await resp.blob();
      const cd = resp.headers.get('Content-Disposition') || '';
      const m = /filename="?([^";]+)"?/.exec(cd);
      const a = el('a', {href: URL.createObjectURL(blob), download: m ? m[1] : 'ounce.csv'});
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (err) {
      message('explorer-message', 'The CSV download failed: ' + err.message);
    }
  }

  // ---- Views and polling -------------------------------------------------------

  const views = {explorer, initiatives, feeds};
  let current = '';
  let busy = false;

  async function show(name, force) {
    if (!views[name]) name = 'explorer';
    current = name;
    for (const v in views) $('view-' + v).hidden = v !== name;
    for (const a of document.querySelectorAll('nav a[data-view]')) {
      if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    await poll(force);
  }

  async function poll(force) {
    if (busy) return;
    busy = true;
    try {
      const changed = await views[current].refresh(force);
      setStatus((changed ? 'Updated' : 'Checked, no change,') + ' at ' + clock());
    } catch (err) {
      setStatus('Refresh failed at ' + clock() + ': ' + err.message);
    } finally {
      busy = false;
    }
  }

  function route() {
    const hash = location.hash.replace(/^#/, '');
    const [name, qs] = hash.split('?');
    if (name === 'explorer' && qs) explorer.fromHash(new URLSearchParams(qs));
    show(name || 'explorer', true);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('explorer-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      explorer.submit();
    });
    $('indicator').addEventListener('change', () => explorer.showIndicator());
    $('add-place').addEventListener('change', () => explorer.addPlace());
    $('add-place').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        explorer.addPlace();
      }
    });
    $('csv-link').addEventListener('click', (ev) => {
      if (!token()) return; // a plain link does
      ev.preventDefault();
      downloadWithToken(ev.currentTarget.href);
    });
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      try {
        sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      } catch (err) {
        setStatus('This browser keeps no token: ' + err.message);
      }
      $('token').value = '';
      $('token-form').hidden = true;
      cache.clear();
      poll(true);
    });
    $('initiative-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      initiatives.load(true);
    });
    $('initiative').addEventListener('change', () => {
      const it = initiatives.current();
      if (it && it.method) $('method').value = it.method;
      initiatives.load(true);
    });
    $('method').addEventListener('change', () => initiatives.load(true));
    $('cost-indicator').addEventListener('change', () => initiatives.load(true));
    window.addEventListener('hashchange', route);
    setInterval(() => {
      if (!document.hidden) poll(false);
    }, POLL_MS);
    route();
  });
})();
