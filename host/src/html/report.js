// Draws the report from the JSON in #assay-data. No network, no libraries:
// the page's Content-Security-Policy allows this script and nothing else.
"use strict";

const DATA = JSON.parse(document.getElementById("assay-data").textContent);
const ROWS_PER_PAGE = 100;

// ---- small helpers ------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(digits);
}

function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function idText(id) {
  return typeof id === "string" ? id : JSON.stringify(id);
}

function table(headers, rows, cls) {
  const head = el("tr", {}, headers.map((h) => (h instanceof Node ? h : el("th", { text: h }))));
  return el("table", { class: cls }, el("thead", {}, head), el("tbody", {}, rows));
}

function numCell(value) {
  return el("td", { class: "num", text: fmt(value) });
}

function metaList(pairs) {
  return el("dl", { class: "meta" }, pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

// Sample-level metrics of a run: the ones with per-sample values.
function sampleMetrics(run) {
  return Object.entries(run.summary.details || {}).filter(([, d]) => d.level === "sample").map(([k]) => k);
}

// ---- charts (SVG built as text: the HTML parser puts it in the SVG namespace)

function chartBox(title, svg) {
  const box = el("div", { class: "chart" }, el("div", { class: "title", text: title }));
  const holder = el("div", { html: svg });
  box.append(holder);
  return box;
}

function histogram(values, opts = {}) {
  const width = opts.width || 300, height = opts.height || 140, pad = { l: 30, r: 8, t: 8, b: 22 };
  const bins = opts.bins || 20;
  let lo = opts.min !== undefined ? opts.min : Math.min(...values);
  let hi = opts.max !== undefined ? opts.max : Math.max(...values);
  if (!values.length) { lo = 0; hi = 1; }
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const top = Math.max(1, ...counts);
  const w = (width - pad.l - pad.r) / bins, h = height - pad.t - pad.b;
  let svg = `<svg class="histogram" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`;
  svg += `<line x1="${pad.l}" y1="${pad.t + h}" x2="${width - pad.r}" y2="${pad.t + h}" stroke="#9aa4b2"/>`;
  counts.forEach((c, i) => {
    const bh = (c / top) * h;
    const from = lo + ((hi - lo) * i) / bins, to = lo + ((hi - lo) * (i + 1)) / bins;
    svg += `<rect class="bar ${opts.cls || ""}" x="${(pad.l + i * w + 1).toFixed(1)}" y="${(pad.t + h - bh).toFixed(1)}" width="${Math.max(1, w - 2).toFixed(1)}" height="${Math.max(c ? 1 : 0, bh).toFixed(1)}"><title>${esc(fmt(from))} – ${esc(fmt(to))}: ${c}</title></rect>`;
  });
  svg += `<text x="${pad.l}" y="${height - 6}">${esc(fmt(lo, 2))}</text>`;
  svg += `<text x="${width - pad.r}" y="${height - 6}" text-anchor="end">${esc(fmt(hi, 2))}</text>`;
  svg += `<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end">${top}</text>`;
  svg += `<text x="${pad.l - 4}" y="${pad.t + h}" text-anchor="end">0</text>`;
  return svg + "</svg>";
}

// Horizontal bars: [{label, value, cls}].
function barChart(items, opts = {}) {
  const width = opts.width || 360, row = 22, pad = { l: 120, r: 60, t: 4 };
  const height = pad.t * 2 + row * items.length;
  const top = Math.max(...items.map((i) => Math.abs(i.value || 0)), 1e-12);
  let svg = `<svg class="bars" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`;
  items.forEach((item, i) => {
    const y = pad.t + i * row, w = ((Math.abs(item.value || 0) / top) * (width - pad.l - pad.r));
    svg += `<text x="${pad.l - 6}" y="${y + 15}" text-anchor="end">${esc(item.label)}</text>`;
    svg += `<rect class="bar ${item.cls || ""}" x="${pad.l}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${row - 6}"><title>${esc(item.label)}: ${esc(fmt(item.value))}</title></rect>`;
    svg += `<text x="${(pad.l + w + 4).toFixed(1)}" y="${y + 15}">${esc(fmt(item.value))}</text>`;
  });
  return svg + "</svg>";
}

// ---- one evaluation run ---------------------------------------------------

function runMeta(run) {
  const s = run.summary, input = s.input || {}, info = s.run || {};
  return metaList([
    ["folder", el("code", { text: run.dir })],
    ["kind", s.kind],
    ["eval set", el("code", { text: `${input.path} (${input.format})` })],
    ["eval set sha256", el("code", { text: input.sha256 })],
    ["started", info.started_at],
    ["finished", info.finished_at],
    ["jobs / batch size / seed", `${info.jobs} / ${info.batch_size} / ${info.seed}`],
    ["reproducible", String(info.reproducible)],
    ["assay", s.assay_version],
    ["plugins", (s.plugins || []).map((p) => el("div", {}, el("b", { text: p.name }), ` ${p.plugin} ${p.version} `, el("span", { class: "sig mono", text: p.signature })))],
  ]);
}

function summaryTable(run) {
  const rows = Object.entries(run.summary.details || {}).map(([key, d]) =>
    el("tr", {},
      el("td", {}, el("code", { text: key }), el("div", { class: "muted", text: d.description })),
      el("td", { text: d.level }),
      numCell(d.value !== undefined ? d.value : d.mean),
      numCell(d.p50), numCell(d.p95), numCell(d.min), numCell(d.max),
      el("td", { class: "num", text: d.count !== undefined ? d.count : "corpus" }),
      el("td", { text: d.higher_is_better ? "↑" : "↓" }),
      el("td", { class: "sig mono", text: d.signature })));
  const headers = ["metric", "level", "mean / value", "p50", "p95", "min", "max", "n", "", "signature"]
    .map((h, i) => el("th", { class: i >= 2 && i <= 7 ? "num" : null, text: h }));
  return table(headers, rows, "summary");
}

function distributions(run, cls) {
  const box = el("div", { class: "charts" });
  for (const key of sampleMetrics(run)) {
    const values = run.samples.map((s) => s.scores[key]).filter((v) => typeof v === "number");
    const d = run.summary.details[key];
    box.append(chartBox(`${key} (n=${values.length}, mean ${fmt(d.mean)})`, histogram(values, { cls })));
  }
  return box;
}

function errorsSection(run) {
  const byKind = new Map();
  for (const sample of run.samples) {
    for (const [plugin, error] of Object.entries(sample.errors || {})) {
      const key = `${plugin}: ${error.kind}`;
      if (!byKind.has(key)) byKind.set(key, []);
      byKind.get(key).push([sample.id, error.message]);
    }
  }
  const out = el("div", {});
  if (!byKind.size && !Object.keys(run.summary.corpus_errors || {}).length) {
    out.append(el("p", { class: "muted", text: "No errors." }));
  }
  for (const [key, list] of [...byKind.entries()].sort((a, b) => b[1].length - a[1].length)) {
    out.append(el("details", {},
      el("summary", {}, el("span", { class: "err", text: key }), ` — ${list.length} sample${list.length === 1 ? "" : "s"}`),
      table(["sample", "message"], list.map(([id, message]) => el("tr", {}, el("td", {}, el("code", { text: idText(id) })), el("td", { class: "mono", text: message }))), "errors")));
  }
  for (const [plugin, error] of Object.entries(run.summary.corpus_errors || {})) {
    out.append(el("p", {}, el("span", { class: "err", text: `${plugin}: corpus metrics failed (${error.kind})` }), ` ${error.message}`));
  }
  if ((run.summary.skipped || []).length) {
    out.append(el("details", {}, el("summary", { text: `${run.summary.skipped.length} records skipped` }),
      table(["line", "reason"], run.summary.skipped.map((b) => el("tr", {}, el("td", { class: "num", text: b.line }), el("td", { text: b.message }))))));
  }
  return out;
}

// Normalized to 0 (worst seen) .. 1 (best seen) per metric, so metrics of
// any range and direction can be averaged into "how bad is this sample".
function normalizer(run) {
  const norms = {};
  for (const key of sampleMetrics(run)) {
    const d = run.summary.details[key];
    const span = d.max - d.min;
    norms[key] = (v) => {
      const n = span > 0 ? (v - d.min) / span : 1;
      return d.higher_is_better ? n : 1 - n;
    };
  }
  return norms;
}

function quality(sample, norms) {
  const parts = Object.entries(norms).filter(([k]) => typeof sample.scores[k] === "number").map(([k, f]) => f(sample.scores[k]));
  const mean = parts.length ? parts.reduce((a, b) => a + b, 0) / parts.length : 0;
  // Samples with errors come first: they are the worst.
  return mean - Object.keys(sample.errors || {}).length;
}

function scoreBadge(value, norm) {
  if (typeof value !== "number") return el("span", { class: "muted", text: "–" });
  const n = norm ? norm(value) : 0.5;
  return el("span", { class: `score ${n < 0.34 ? "lo" : n < 0.67 ? "mid" : "hi"}`, text: fmt(value) });
}

function textCell(text) {
  return el("td", {}, text === undefined ? el("span", { class: "muted", text: "–" }) : el("div", { class: "text", text }));
}

function referencesCell(refs) {
  if (!refs) return textCell(undefined);
  return el("td", {}, el("div", { class: "text" }, refs.map((r) => el("div", { class: "ref", text: r }))));
}

// The sortable, filterable table of one run's samples, worst first.
function sampleTable(run) {
  const metrics = sampleMetrics(run), norms = normalizer(run);
  const rows = run.samples.map((s, index) => ({ s, index, quality: quality(s, norms), errors: Object.keys(s.errors || {}).length }));
  const state = { key: "quality", dir: "asc", text: "", errors: "all", metric: metrics[0] || "", op: "<=", threshold: "", shown: ROWS_PER_PAGE };

  const search = el("input", { type: "search", placeholder: "search id, input, output, references", "data-role": "search" });
  const errors = el("select", { "data-role": "errors" }, el("option", { value: "all", text: "all samples" }), el("option", { value: "with", text: "with errors" }), el("option", { value: "without", text: "without errors" }));
  const metric = el("select", { "data-role": "metric" }, metrics.map((m) => el("option", { value: m, text: m })));
  const op = el("select", { "data-role": "op" }, ["<=", ">=", "==", "<", ">"].map((o) => el("option", { value: o, text: o })));
  const threshold = el("input", { type: "number", step: "any", placeholder: "score", "data-role": "threshold" });
  const count = el("span", { class: "muted", "data-role": "count" });
  const reset = el("button", { type: "button", text: "worst first" });
  const controls = el("div", { class: "controls" }, search, errors, metrics.length ? ["score", metric, op, threshold] : [], reset, count);

  const sortable = (key, label, cls) => el("th", { class: `sortable ${cls || ""}`, "data-key": key, text: label });
  const headers = [sortable("index", "#", "num"), sortable("id", "id"), el("th", { text: "input" }), el("th", { text: "output" }), el("th", { text: "references" }),
    ...metrics.map((m) => sortable(`m:${m}`, m, "num")), sortable("errors", "errors")];
  const body = el("tbody", {});
  const grid = el("table", { class: "samples" }, el("thead", {}, el("tr", {}, headers)), body);
  const more = el("button", { type: "button", text: "show more" });
  const note = run.records_note ? el("p", { class: "note", text: run.records_note }) : null;

  const haystack = (r) => [idText(r.s.id), r.s.input || "", r.s.output || "", ...(r.s.references || [])].join("\n").toLowerCase();
  const compare = { "<=": (a, b) => a <= b, ">=": (a, b) => a >= b, "==": (a, b) => a === b, "<": (a, b) => a < b, ">": (a, b) => a > b };
  const value = (r) => {
    if (state.key === "quality") return r.quality;
    if (state.key === "index") return r.index;
    if (state.key === "errors") return r.errors;
    if (state.key === "id") return idText(r.s.id);
    const v = r.s.scores[state.key.slice(2)];
    return typeof v === "number" ? v : null;
  };

  function draw() {
    const needle = state.text.trim().toLowerCase();
    const limit = state.threshold === "" ? null : Number(state.threshold);
    let list = rows.filter((r) =>
      (state.errors === "all" || (state.errors === "with") === (r.errors > 0)) &&
      (!needle || haystack(r).includes(needle)) &&
      (limit === null || (typeof r.s.scores[state.metric] === "number" && compare[state.op](r.s.scores[state.metric], limit))));
    const sign = state.dir === "asc" ? 1 : -1;
    list = list.slice().sort((a, b) => {
      const x = value(a), y = value(b);
      // Samples without the value sort last either way.
      if (x === null || y === null) return (x === null) - (y === null) || a.index - b.index;
      return (x < y ? -1 : x > y ? 1 : 0) * sign || a.index - b.index;
    });
    body.replaceChildren(...list.slice(0, state.shown).map((r) => el("tr", { "data-id": idText(r.s.id) },
      el("td", { class: "num", text: r.index + 1 }),
      el("td", {}, el("code", { text: idText(r.s.id) })),
      textCell(r.s.input), textCell(r.s.output), referencesCell(r.s.references),
      ...metrics.map((m) => el("td", { class: "num", "data-value": r.s.scores[m] ?? "" }, scoreBadge(r.s.scores[m], norms[m]))),
      el("td", { "data-value": r.errors }, Object.entries(r.s.errors || {}).map(([p, e]) => el("div", { class: "err", title: e.message, text: `${p}: ${e.kind}` }))))));
    count.textContent = `${list.length} of ${rows.length} samples` + (list.length > state.shown ? `, first ${state.shown} shown` : "");
    count.setAttribute("data-matching", list.length);
    more.hidden = list.length <= state.shown;
    for (const th of headers) {
      if (th.dataset.key === state.key) th.setAttribute("data-dir", state.dir);
      else th.removeAttribute("data-dir");
    }
  }

  for (const th of headers.filter((h) => h.dataset.key)) {
    th.addEventListener("click", () => {
      // A metric's first click puts its worst values first.
      const metricKey = th.dataset.key.startsWith("m:") ? th.dataset.key.slice(2) : null;
      const firstDir = metricKey && !run.summary.details[metricKey].higher_is_better ? "desc" : th.dataset.key === "errors" ? "desc" : "asc";
      state.dir = state.key === th.dataset.key ? (state.dir === "asc" ? "desc" : "asc") : firstDir;
      state.key = th.dataset.key;
      state.shown = ROWS_PER_PAGE;
      draw();
    });
  }
  search.addEventListener("input", () => { state.text = search.value; draw(); });
  errors.addEventListener("change", () => { state.errors = errors.value; draw(); });
  metric.addEventListener("change", () => { state.metric = metric.value; draw(); });
  op.addEventListener("change", () => { state.op = op.value; draw(); });
  threshold.addEventListener("input", () => { state.threshold = threshold.value; draw(); });
  reset.addEventListener("click", () => { state.key = "quality"; state.dir = "asc"; draw(); });
  more.addEventListener("click", () => { state.shown += ROWS_PER_PAGE; draw(); });
  draw();
  return el("div", { class: "sample-table" }, note, controls, grid, more);
}

function evaluationSection(run, index) {
  return el("section", { class: "run", id: `run-${index}` },
    el("h2", {}, el("span", { class: `swatch run-${index % 5}` }), `Run ${run.name}`),
    el("h3", { text: "Metrics" }), summaryTable(run),
    el("h3", { text: "Distributions" }), distributions(run, `run-${index % 5}`),
    el("h3", { text: "Errors" }), errorsSection(run),
    el("h3", { text: "Samples, worst first" }), sampleTable(run),
    el("details", {}, el("summary", { text: "Run metadata" }), runMeta(run)));
}

// ---- several runs ---------------------------------------------------------

function comparisonSection(runs) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.summary.metrics || {})))].sort();
  const out = el("section", { id: "comparison" }, el("h2", { text: `Comparison of ${runs.length} runs` }));
  const eval_sets = new Set(runs.map((r) => (r.summary.input || {}).path));
  out.append(el("p", { class: "muted", text: `Samples are matched by id. Eval sets: ${[...eval_sets].join(", ")}.` }));
  const signatures = (key) => new Set(runs.map((r) => ((r.summary.details || {})[key] || {}).signature).filter(Boolean));
  // Paired tests of each run against the first (assay compare's, run by
  // `assay report`): a run is "ahead" only when its lead is significant.
  const significance = DATA.significance || {};
  const tested = significance.tested ? new Map(significance.tested.metrics.map((m) => [m.metric, m])) : new Map();
  const rows = keys.map((key) => {
    const detail = runs.map((r) => (r.summary.details || {})[key]).find(Boolean) || {};
    const values = runs.map((r) => (r.summary.metrics || {})[key]);
    const present = values.map((v, i) => [v, i]).filter(([v]) => typeof v === "number");
    present.sort((a, b) => (detail.higher_is_better === false ? a[0] - b[0] : b[0] - a[0]));
    const [best, second] = present;
    const lead = best && second ? Math.abs(best[0] - second[0]) : null;
    const relative = lead && second[0] !== 0 ? ` (${((lead / Math.abs(second[0])) * 100).toFixed(1)}%)` : "";
    // The lead is tested where it is against the first run: the best is
    // another run, or the first run leads the second best.
    const test = tested.get(key);
    const against = best && second ? (best[1] !== 0 ? best[1] : second[1] !== 0 ? second[1] : null) : null;
    const result = test && against !== null ? test.runs[against] : null;
    let ahead = "–";
    if (best && second) {
      if (lead === 0) ahead = "tie";
      else if (!result) ahead = `${runs[best[1]].name} (not tested)`;
      else ahead = result.verdict === "better" || result.verdict === "worse" ? runs[best[1]].name : "not significant";
    }
    const significant = ahead === runs[best ? best[1] : 0]?.name;
    return el("tr", { "data-metric": key },
      el("td", {}, el("code", { text: key }), signatures(key).size > 1 ? el("div", { class: "note", text: "signatures differ: values may not be comparable" }) : null),
      ...values.map((v, i) => el("td", { class: `num${best && i === best[1] && lead && significant ? " ahead" : ""}`, text: fmt(v) })),
      el("td", { class: "ahead", text: ahead }),
      el("td", { class: "num", text: lead ? `${fmt(lead)}${relative}` : "–" }),
      el("td", { class: "num", text: result && typeof result.p_value === "number" ? result.p_value.toFixed(4) : "–" }));
  });
  out.append(table([el("th", { text: "metric" }), ...runs.map((r, i) => el("th", { class: "num" }, el("span", { class: `swatch run-${i % 5}` }), r.name)), el("th", { text: "ahead" }), el("th", { class: "num", text: "by" }), el("th", { class: "num", text: "p" })], rows, "comparison"));
  if (significance.tested) {
    const t = significance.tested;
    const skipped = t.skipped.length ? ` Not tested: ${t.skipped.map((s) => `${s.metric} (${s.reason})`).join("; ")}.` : "";
    out.append(el("p", { class: "muted", text: `"Ahead" only when the lead is significant: paired bootstrap against ${runs[0].name}, ${t.draws} resamples, seed ${t.seed}, p < ${t.alpha}.${skipped}` }));
  } else if (significance.untested) {
    out.append(el("p", { class: "note", text: `Differences are not tested for significance: ${significance.untested}` }));
  }

  out.append(el("h3", { text: "Headline values" }));
  const bars = el("div", { class: "charts" });
  for (const key of keys) {
    bars.append(chartBox(key, barChart(runs.map((r, i) => ({ label: r.name, value: (r.summary.metrics || {})[key], cls: `run-${i % 5}` })))));
  }
  out.append(bars);

  out.append(el("h3", { text: "Distributions side by side" }));
  const sample_keys = [...new Set(runs.flatMap(sampleMetrics))].sort();
  for (const key of sample_keys) {
    const all = runs.flatMap((r) => r.samples.map((s) => s.scores[key]).filter((v) => typeof v === "number"));
    const [min, max] = [Math.min(...all), Math.max(...all)];
    out.append(el("div", { class: "charts" }, runs.map((r, i) => {
      const values = r.samples.map((s) => s.scores[key]).filter((v) => typeof v === "number");
      return chartBox(`${key} — ${r.name}`, histogram(values, { min, max, cls: `run-${i % 5}`, width: 260 }));
    })));
  }
  out.append(el("h3", { text: "Samples where the runs disagree most" }), disagreements(runs, sample_keys));
  return out;
}

function disagreements(runs, keys) {
  const byId = runs.map((r) => new Map(r.samples.map((s) => [idText(s.id), s])));
  const norms = runs.map(normalizer);
  const shared = [...byId[0].keys()].filter((id) => byId.every((m) => m.has(id)));
  const spread = (id) => keys.reduce((total, key) => {
    const values = byId.map((m, i) => (norms[i][key] && typeof m.get(id).scores[key] === "number" ? norms[i][key](m.get(id).scores[key]) : null)).filter((v) => v !== null);
    return total + (values.length > 1 ? Math.max(...values) - Math.min(...values) : 0);
  }, 0);
  const ranked = shared.map((id) => [id, spread(id)]).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).slice(0, 50);
  if (!ranked.length) return el("p", { class: "muted", text: `The runs agree on all ${shared.length} shared samples.` });
  const rows = ranked.map(([id, s]) => {
    const first = byId[0].get(id);
    return el("tr", {},
      el("td", {}, el("code", { text: id }), el("div", { class: "muted", text: `spread ${fmt(s, 2)}` })),
      textCell(first.input), referencesCell(first.references),
      ...byId.map((m, i) => {
        const sample = m.get(id);
        return el("td", {}, el("div", { class: "text", text: sample.output === undefined ? "–" : sample.output }),
          keys.map((k) => el("div", {}, el("span", { class: "muted", text: `${k} ` }), scoreBadge(sample.scores[k], norms[i][k]))));
      }));
  });
  return table([el("th", { text: "sample" }), el("th", { text: "input" }), el("th", { text: "references" }), ...runs.map((r, i) => el("th", {}, el("span", { class: `swatch run-${i % 5}` }), r.name))], rows, "disagreements");
}

// ---- guard runs -------------------------------------------------------------

function guardSection(run, index) {
  const s = run.summary, counts = s.counts || {};
  const out = el("section", { class: "run guard", id: `run-${index}` }, el("h2", { text: `Guard run ${run.name}` }));
  out.append(el("div", { class: "charts" }, chartBox("records by decision", barChart([
    { label: "accepted", value: counts.accepted, cls: "run-2" },
    { label: "quarantined", value: counts.quarantined, cls: "run-1" },
    { label: "rejected", value: counts.rejected, cls: "run-4" },
  ]))));
  out.append(el("p", {}, ["records", "accepted", "quarantined", "rejected", "bad_records", "guard_errors"].map((k) => el("span", { class: "pill", text: `${k.replace("_", " ")}: ${counts[k] ?? 0}` }))));
  out.append(el("h3", { text: "Per guard" }));
  out.append(table(["guard", "accept", "quarantine", "reject", "errors"].map((h, i) => el("th", { class: i ? "num" : null, text: h })),
    Object.entries(s.guards || {}).map(([name, g]) => el("tr", {}, el("td", {}, el("code", { text: name })), numCell(g.accept), numCell(g.quarantine), numCell(g.reject),
      el("td", { class: "num", text: Object.entries(g.errors || {}).map(([k, n]) => `${n} ${k}`).join(", ") || "0" }))), "guards"));

  out.append(el("h3", { text: "Quarantined and rejected records" }));
  const search = el("input", { type: "search", placeholder: "search records and reasons", "data-role": "search" });
  const decision = el("select", { "data-role": "decision" }, ["all", "quarantine", "reject"].map((d) => el("option", { value: d, text: d })));
  const count = el("span", { class: "muted", "data-role": "count" });
  const body = el("tbody", {});
  const reasons = (h) => Object.entries(h.guards || {}).filter(([, g]) => g.decision !== "accept" || g.error);
  function draw() {
    const needle = search.value.trim().toLowerCase();
    const list = run.held.filter((h) => (decision.value === "all" || h.decision === decision.value) && (!needle || JSON.stringify(h).toLowerCase().includes(needle)));
    body.replaceChildren(...list.slice(0, 500).map((h) => el("tr", { "data-id": idText(h.id) },
      el("td", { class: "num", text: h.line }), el("td", {}, el("code", { text: h.id === null ? "–" : idText(h.id) })),
      el("td", { class: `decision-${h.decision}`, text: h.decision }),
      el("td", {}, h.error ? el("div", { class: "err", text: `${h.error.kind}: ${h.error.message}` }) : null,
        reasons(h).map(([name, g]) => el("div", {}, el("b", { text: `${name}: ` }), `${g.decision}${g.risk !== null && g.risk !== undefined ? ` (risk ${fmt(g.risk, 2)})` : ""} — ${g.reason || ""}`, g.error ? el("span", { class: "err", text: ` [${g.error.kind}]` }) : null))),
      el("td", {}, el("div", { class: "text mono", text: h.record ?? "–" })))));
    count.textContent = `${list.length} of ${run.held.length} records` + (list.length > 500 ? ", first 500 shown" : "");
    count.setAttribute("data-matching", list.length);
  }
  search.addEventListener("input", draw);
  decision.addEventListener("change", draw);
  draw();
  out.append(el("div", { class: "controls" }, search, decision, count));
  out.append(el("table", { class: "held" }, el("thead", {}, el("tr", {}, ["line", "id", "decision", "reasons", "record"].map((h) => el("th", { text: h })))), body));
  out.append(el("details", {}, el("summary", { text: "Run metadata" }), runMeta(run)));
  return out;
}

// ---- a choice among candidates (assay compare --candidates) -----------------

// Each run's score and 95% interval on one metric, as thin bars on a shared axis.
function intervalChart(metric) {
  const width = 420, row = 22, pad = { l: 150, r: 70, t: 4 };
  const runs = metric.runs;
  const height = pad.t * 2 + row * runs.length;
  const ends = runs.flatMap((r) => (typeof r.mean === "number" ? [r.mean - r.ci, r.mean + r.ci] : [r.score]));
  let [lo, hi] = [Math.min(...ends), Math.max(...ends)];
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const x = (v) => pad.l + ((v - lo) / (hi - lo)) * (width - pad.l - pad.r);
  let svg = `<svg class="intervals" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`;
  runs.forEach((r, i) => {
    const y = pad.t + i * row;
    const name = r.run.split("/").pop();
    svg += `<text x="${pad.l - 6}" y="${y + 15}" text-anchor="end">${esc(name)}</text>`;
    if (typeof r.mean === "number") {
      svg += `<rect class="bar run-${i % 5}" x="${x(r.mean - r.ci).toFixed(1)}" y="${y + 9}" width="${Math.max(1, x(r.mean + r.ci) - x(r.mean - r.ci)).toFixed(1)}" height="4"><title>${esc(name)}: ${esc(fmt(r.mean))} ± ${esc(fmt(r.ci))}</title></rect>`;
    }
    svg += `<rect class="bar run-${i % 5}" x="${(x(r.score) - 2).toFixed(1)}" y="${y + 4}" width="4" height="14"><title>${esc(name)}: ${esc(fmt(r.score))} (${esc(r.verdict)})</title></rect>`;
    svg += `<text x="${width - pad.r + 6}" y="${y + 15}">${esc(r.verdict === "baseline" ? "baseline" : r.verdict === "not-significant" ? "n.s." : r.verdict)}</text>`;
  });
  return svg + "</svg>";
}

// Quality against p95 latency, the Pareto front marked.
function paretoChart(rows, quality) {
  const points = rows.filter((r) => !r.excluded.length && typeof r.figures[quality] === "number" && typeof r.figures.p95_latency_ms === "number");
  const width = 420, height = 260, pad = { l: 50, r: 20, t: 12, b: 36 };
  const xs = points.map((p) => p.figures.p95_latency_ms), ys = points.map((p) => p.figures[quality]);
  // A tenth of each range around the points, so none sits on an axis.
  const around = (values) => {
    let [lo, hi] = [Math.min(...values), Math.max(...values)];
    const margin = hi > lo ? (hi - lo) / 10 : Math.abs(hi) / 10 || 0.5;
    return [lo - margin, hi + margin];
  };
  const [x0, x1] = around(xs), [y0, y1] = around(ys);
  const x = (v) => pad.l + ((v - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  let svg = `<svg class="pareto" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`;
  svg += `<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="#9aa4b2"/>`;
  svg += `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" stroke="#9aa4b2"/>`;
  svg += `<text x="${width - pad.r}" y="${height - 8}" text-anchor="end">p95 latency (ms)</text>`;
  svg += `<text x="${pad.l + 4}" y="${pad.t + 10}">${esc(quality)}</text>`;
  points.forEach((p, i) => {
    const cx = x(p.figures.p95_latency_ms), cy = y(p.figures[quality]);
    svg += `<rect class="bar run-${i % 5}${p.pareto ? " front" : ""}" data-name="${esc(p.candidate.name)}" x="${(cx - 5).toFixed(1)}" y="${(cy - 5).toFixed(1)}" width="10" height="10" rx="${p.pareto ? 0 : 5}"><title>${esc(p.candidate.name)}: ${esc(fmt(p.figures[quality]))}, p95 ${esc(fmt(p.figures.p95_latency_ms, 0))} ms${p.pareto ? ", on the Pareto front" : ""}</title></rect>`;
    // Labels face the chart's middle, so none runs off its edge.
    const right = cx < width / 2;
    svg += `<text x="${(cx + (right ? 8 : -8)).toFixed(1)}" y="${(cy + 4).toFixed(1)}" text-anchor="${right ? "start" : "end"}">${esc(p.candidate.name)}${p.pareto ? " ★" : ""}</text>`;
  });
  return svg + "</svg>";
}

function decisionPage(app, d) {
  const title = d.candidates.length ? `choosing among ${d.candidates.length} candidates` : `${d.comparisons[0].runs.length} runs`;
  app.append(el("h1", { text: `assay compare: ${title}` }),
    el("p", { class: "muted", text: `${DATA.generator} · ${d.candidates_file || "runs"} · self-contained, works offline` }));
  if (d.requirements.length) app.append(el("p", {}, "Requirements: ", d.requirements.flatMap((r, i) => [i ? ", " : "", el("code", { text: r })])));
  const known = (v, digits) => (v === null || v === undefined ? "unknown" : fmt(v, digits));
  const rows = d.candidates.map((r) => {
    const c = r.candidate, f = r.figures;
    const commercial = c.commercial_use ? `${c.commercial_use}${c.commercial_note ? ` (${c.commercial_note})` : ""}` : "unknown";
    const adapt = c.adaptability ? `${c.adaptability.kind}${c.adaptability.methods.length ? ` (${c.adaptability.methods.join(", ")})` : ""}` : "unknown";
    const status = r.excluded.length ? `excluded: ${r.excluded.join("; ")}` : `kept${r.pareto ? ", on the Pareto front" : ""}`;
    return el("tr", { "data-name": c.name, class: r.excluded.length ? "excluded" : "" },
      el("td", {}, el("b", { text: c.name })), el("td", { text: c.license ?? "unknown" }), el("td", { text: commercial }),
      el("td", { class: "num", text: c.parameters >= 1e9 ? `${fmt(c.parameters / 1e9, 1)} B` : known(c.parameters, 0) }), el("td", { class: "num", text: known(c.context_length, 0) }),
      el("td", { text: c.training_data ? c.training_data.text : "unknown" }), el("td", { text: adapt }),
      el("td", { class: "num", text: known(f.p50_latency_ms, 1) }), el("td", { class: "num", text: known(f.p95_latency_ms, 1) }),
      el("td", { class: "num", text: known(f.tokens_per_second, 1) }), el("td", { class: "num", text: known(f.cost_per_1000, 4) }),
      el("td", { class: "num", text: r.rank_score === null ? (r.rank_note || "–") : fmt(r.rank_score, 3) }),
      el("td", { text: status }));
  });
  if (rows.length) app.append(el("section", {}, el("h2", { text: "Candidates" }), el("div", { class: "wide" },
    table(["candidate", "licence", "commercial use", "parameters", "context", "training data", "adaptability", "p50 latency (ms)", "p95 latency (ms)", "tokens/s", "cost per 1,000", "rank score", "status"], rows, "criteria"))));
  if (d.quality) {
    app.append(el("section", {}, el("h2", { text: "Quality against speed" }),
      el("p", { class: "muted", text: `A candidate is on the Pareto front when no other kept one is at least as good on ${d.quality}, p95 latency and cost and better on one.` }),
      el("div", { class: "charts" }, chartBox(`${d.quality} against p95 latency`, paretoChart(d.candidates, d.quality)))));
  }
  for (const comparison of d.comparisons) {
    const section = el("section", {}, el("h2", { text: `Against ${comparison.runs[0]}` }),
      el("p", { class: "muted", text: `${comparison.test === "paired-bs" ? `paired bootstrap, ${comparison.draws} resamples` : `approximate randomization, ${comparison.draws} trials`}, seed ${comparison.seed}; a difference is significant below p = ${comparison.alpha}.` }));
    const metricRows = comparison.metrics.flatMap((m) => m.runs.map((r) => el("tr", { "data-metric": m.metric },
      el("td", {}, el("code", { text: m.metric })), el("td", { text: r.run }), numCell(r.score),
      el("td", { class: "num", text: typeof r.mean === "number" ? `${fmt(r.mean)} ± ${fmt(r.ci)}` : "–" }),
      el("td", { class: "num", text: typeof r.p_value === "number" ? fmt(r.p_value) : "–" }),
      el("td", { text: r.verdict.replace("-", " ") }))));
    section.append(table(["metric", "run", "score", "95% interval", "p", "verdict"], metricRows, "intervals"));
    const pairRows = comparison.metrics.flatMap((m) => (m.pairs || []).map((p) => el("tr", {},
      el("td", {}, el("code", { text: m.metric })), el("td", { text: `${p.second} against ${p.first}` }),
      el("td", { class: "num", text: fmt(p.p_value) }), el("td", { text: p.verdict.replace("-", " ") }))));
    if (pairRows.length) section.append(el("h3", { text: "The other pairs" }), table(["metric", "pair", "p", "verdict"], pairRows, "pairs"));
    section.append(el("div", { class: "charts" }, comparison.metrics.map((m) => chartBox(m.metric, intervalChart(m)))));
    if (comparison.skipped.length) {
      section.append(el("details", {}, el("summary", { text: `${comparison.skipped.length} metrics not compared` }),
        el("ul", {}, comparison.skipped.map((s) => el("li", {}, el("code", { text: s.metric }), `: ${s.reason}`)))));
    }
    app.append(section);
  }
}

// ---- the page ---------------------------------------------------------------

function render() {
  const app = document.getElementById("app");
  if (DATA.decision) return decisionPage(app, DATA.decision);
  const runs = DATA.runs;
  app.append(el("h1", { text: runs.length === 1 ? `assay report: ${runs[0].name}` : `assay report: ${runs.map((r) => r.name).join(" vs ")}` }),
    el("p", { class: "muted", text: `${DATA.generator} · ${runs.length} run${runs.length === 1 ? "" : "s"} · self-contained, works offline` }));
  const evaluations = runs.filter((r) => r.summary.kind !== "guard");
  if (evaluations.length > 1) app.append(comparisonSection(evaluations));
  runs.forEach((run, i) => app.append(run.summary.kind === "guard" ? guardSection(run, i) : evaluationSection(run, i)));
}

// ---- self-test: `report.html#selftest` exercises the page and writes what
// it saw into #selftest-result, for headless browser tests.

function selftest() {
  const result = { errors: [] };
  try {
    result.charts = [...document.querySelectorAll("svg")].map((svg) => {
      const box = svg.getBoundingClientRect();
      return { class: svg.getAttribute("class"), width: box.width, height: box.height, marks: svg.querySelectorAll("rect").length };
    });
    const grid = document.querySelector("table.samples");
    if (grid) {
      const section = grid.closest(".sample-table");
      const ids = () => [...grid.querySelectorAll("tbody tr")].map((tr) => tr.dataset.id);
      const matching = () => Number(section.querySelector("[data-role=count]").dataset.matching);
      result.rows = { total: matching(), first: ids().slice(0, 5) };
      const th = grid.querySelector("th[data-key^='m:']");
      if (th) {
        const column = [...th.parentNode.children].indexOf(th);
        const values = () => [...grid.querySelectorAll("tbody tr")].map((tr) => tr.children[column].dataset.value).filter((v) => v !== "").map(Number);
        th.click();
        const first = { dir: th.dataset.dir, values: values() };
        th.click();
        result.sort = { metric: th.dataset.key.slice(2), first, second: { dir: th.dataset.dir, values: values() } };
      }
      const search = section.querySelector("[data-role=search]");
      const target = ids()[2];
      search.value = target;
      search.dispatchEvent(new Event("input"));
      result.search = { query: target, matching: matching(), ids: ids() };
      search.value = "";
      search.dispatchEvent(new Event("input"));
      const errors = section.querySelector("[data-role=errors]");
      errors.value = "with";
      errors.dispatchEvent(new Event("change"));
      result.with_errors = matching();
      errors.value = "all";
      errors.dispatchEvent(new Event("change"));
      const threshold = section.querySelector("[data-role=threshold]");
      if (threshold) {
        section.querySelector("[data-role=op]").value = ">=";
        section.querySelector("[data-role=op]").dispatchEvent(new Event("change"));
        threshold.value = "1";
        threshold.dispatchEvent(new Event("input"));
        result.score_filter = { metric: section.querySelector("[data-role=metric]").value, op: ">=", threshold: 1, matching: matching() };
        threshold.value = "";
        threshold.dispatchEvent(new Event("input"));
      }
    }
    const held = document.querySelector("table.held");
    if (held) {
      const section = held.closest("section");
      const decision = section.querySelector("[data-role=decision]");
      decision.value = "reject";
      decision.dispatchEvent(new Event("change"));
      result.held_rejected = Number(section.querySelector("[data-role=count]").dataset.matching);
      decision.value = "all";
      decision.dispatchEvent(new Event("change"));
    }
    result.comparison = [...document.querySelectorAll("table.comparison tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent));
    const texts = (selector) => [...document.querySelectorAll(selector)].map((tr) => [...tr.children].map((td) => td.textContent));
    result.criteria = texts("table.criteria tbody tr");
    result.intervals = texts("table.intervals tbody tr");
    result.front = [...document.querySelectorAll("svg.pareto rect.front")].map((r) => r.dataset.name);
    result.disagreements = document.querySelectorAll("table.disagreements tbody tr").length;
  } catch (error) {
    result.errors.push(String(error && error.stack || error));
  }
  result.resources = performance.getEntriesByType("resource").map((entry) => entry.name);
  result.violations = violations;
  // The style element applies only if its hash in the policy is right.
  result.styled = getComputedStyle(document.getElementById("app")).maxWidth === "1280px";
  result.external = [...document.querySelectorAll("[src], [href], link, iframe, img, object, embed")].map((node) => node.outerHTML.slice(0, 200));
  document.body.append(el("pre", { id: "selftest-result", text: JSON.stringify(result) }));
}

// Anything the Content-Security-Policy blocked: for the self-test.
const violations = [];
document.addEventListener("securitypolicyviolation", (event) => violations.push(`${event.violatedDirective} ${event.blockedURI}`));
window.addEventListener("error", (event) => {
  document.body.append(el("pre", { id: "script-error", text: String(event.message) }));
});
render();
if (location.hash === "#selftest") selftest();
