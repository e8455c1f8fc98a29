// The console's behaviour: search, complements with their "why" numbers, cold start, event plot, offers.
// Vanilla JS, no dependencies; every request goes to this server.
"use strict";

const $ = (id) => document.getElementById(id);

function headers(extra) {
  const h = Object.assign({"Accept": "application/json"}, extra || {});
  const key = $("apikey");
  if (key && key.value) h["X-API-Key"] = key.value;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(path, opts);
  const body = await response.json();
  return {ok: response.ok, status: response.status, body: body};
}

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children || []) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}

function fmt(x, digits) {
  if (x === null || x === undefined) return "";
  if (typeof x !== "number") return String(x);
  return x.toLocaleString("en", {maximumFractionDigits: digits === undefined ? 2 : digits});
}

function showError(target, result) {
  target.replaceChildren(el("p", {class: "error", text: result.body.error || ("error " + result.status)}));
}

// a small horizontal bar graph of the partners' probabilities (or scores)
function barGraph(partners) {
  const ns = "http://www.w3.org/2000/svg";
  const rowH = 18, width = 420, left = 170;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(rowH * partners.length + 4));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "partner strength");
  const value = (p) => (p.probability !== null && p.probability !== undefined) ? p.probability : Math.max(p.score || 0, 0);
  const top = Math.max(...partners.map(value), 1e-9);
  partners.forEach((p, i) => {
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(i * rowH + 13));
    label.textContent = (p.title || p.product_id).slice(0, 26);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", String(left));
    bar.setAttribute("y", String(i * rowH + 3));
    bar.setAttribute("height", String(rowH - 6));
    bar.setAttribute("width", String(Math.max(1, (width - left - 40) * value(p) / top)));
    bar.setAttribute("fill", "#3b6ea5");
    const num = document.createElementNS(ns, "text");
    num.setAttribute("x", String(left + 4 + (width - left - 40) * value(p) / top));
    num.setAttribute("y", String(i * rowH + 13));
    num.textContent = fmt(value(p), 3);
    svg.append(label, bar, num);
  });
  return svg;
}

function partnerTable(result) {
  const rows = result.partners.map((p) => el("tr", {class: "partner", "data-product": p.product_id}, [
    el("td", {text: String(p.rank)}), el("td", {text: p.title || p.product_id}),
    el("td", {class: "num", text: fmt(p.price)}), el("td", {class: "num", text: fmt(p.probability, 3)}),
    el("td", {class: "num", text: fmt(p.n_together, 0)}), el("td", {class: "num", text: fmt(p.lift, 1)}),
    el("td", {class: "num", text: p.q_value === null ? "" : p.q_value.toExponential(1)}),
    el("td", {class: "num", text: fmt(p.text_similarity, 2)}), el("td", {text: p.why}),
  ]));
  const head = el("tr", {}, ["#", "partner", "price", "P", "baskets together", "lift", "q-value", "text sim", "why"]
    .map((h) => el("th", {text: h})));
  return el("table", {class: "partners"}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
}

async function showComplements(productId) {
  const target = $("complements");
  const result = await api("/v1/products/" + encodeURIComponent(productId) + "/complements?k=8");
  if (!result.ok) return showError(target, result);
  const r = result.body;
  const title = el("h3", {text: "Partners of " + (r.title || r.product) + " (" + r.source + ")"});
  const parts = [title];
  if (r.note) parts.push(el("p", {class: "hint", text: r.note}));
  if (r.partners.length) parts.push(barGraph(r.partners), partnerTable(r));
  target.replaceChildren(...parts);
}

async function search(event) {
  event.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const result = await api("/v1/products?limit=12&q=" + encodeURIComponent(q));
  const list = $("results");
  if (!result.ok) return showError($("complements"), result);
  list.replaceChildren(...result.body.products.map((p) => {
    const li = el("li", {"data-product": p.product_id, text: (p.title || p.product_id) + " · " + p.product_id});
    li.addEventListener("click", () => showComplements(p.product_id));
    return li;
  }));
  if (!result.body.products.length) list.replaceChildren(el("li", {class: "empty", text: "no product matches"}));
}

async function coldStart(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  const target = $("text-result");
  if (!text) return;
  target.replaceChildren(el("p", {class: "hint", text: "…"}));
  const result = await api("/v1/complements", {method: "POST", headers: {"Content-Type": "application/json"},
                                               body: JSON.stringify({text: text, k: 6})});
  if (!result.ok) return showError(target, result);
  target.replaceChildren(el("p", {class: "hint", text: "source: " + result.body.source}),
                         barGraph(result.body.partners), partnerTable(result.body));
}

// events per day: one polyline per series (all events, offer events)
function eventsPlot(stats) {
  const byDay = new Map();
  for (const row of stats.events_by_day) {
    const d = byDay.get(row.day) || {all: 0, offers: 0};
    d.all += row.n;
    if (row.event_type.startsWith("offer_")) d.offers += row.n;
    byDay.set(row.day, d);
  }
  const days = [...byDay.keys()].sort();
  $("events-total").textContent = stats.events_total.toLocaleString("en") + " events stored; writer: " +
    (stats.writer.enabled ? stats.writer.batches + " batches committed" : "off (read-only)");
  const target = $("events-plot");
  if (!days.length) { target.replaceChildren(el("p", {class: "empty", text: "no events yet"})); return; }
  const ns = "http://www.w3.org/2000/svg", w = 640, h = 160, pad = 30;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("id", "events-svg");
  const top = Math.max(...days.map((d) => byDay.get(d).all), 1);
  const x = (i) => pad + (days.length === 1 ? (w - 2 * pad) / 2 : i * (w - 2 * pad) / (days.length - 1));
  const y = (v) => h - pad - v * (h - 2 * pad) / top;
  for (const [series, colour] of [["all", "#3b6ea5"], ["offers", "#d2691e"]]) {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colour);
    line.setAttribute("stroke-width", "2");
    line.setAttribute("points", days.map((d, i) => x(i) + "," + y(byDay.get(d)[series])).join(" "));
    line.setAttribute("class", "series-" + series);
    svg.appendChild(line);
  }
  const labels = [[pad, h - 8, days[0]], [w - pad - 60, h - 8, days[days.length - 1]], [2, pad, String(top)],
                  [w - 150, 14, "— all events  — offers"]];
  for (const [lx, ly, text] of labels) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(lx));
    t.setAttribute("y", String(ly));
    t.textContent = text;
    svg.appendChild(t);
  }
  target.replaceChildren(svg);
}

async function refreshStats() {
  const result = await api("/v1/stats");
  if (result.ok) eventsPlot(result.body);
  if ($("offers-table")) refreshOffers();
}

// the offers panel: per offer its impressions, share (bar), exploration, CTR, conversion, margin with interval
async function refreshOffers() {
  const result = await api("/v1/offers/stats");
  const target = $("offers-table");
  if (!result.ok) { showError(target, result); return; }
  const s = result.body;
  $("offers-summary").textContent = `version ${s.policy_version} · ${fmt(s.decisions, 0)} decisions · ` +
    `${fmt(s.updates, 0)} rewards learned · ${fmt(s.pending, 0)} in their window · exploration ` +
    (s.exploration_share === null ? "–" : fmt(100 * s.exploration_share, 1) + " %");
  if (!s.offers.length) {
    target.replaceChildren(el("p", {class: "empty", text: "no decision yet: POST /v1/offers/select"}));
    return;
  }
  const pct = (x) => x === null ? "" : fmt(100 * x, 1) + " %";
  const head = el("tr", {}, ["offer", "impressions", "share", "explored", "CTR", "conversion",
    "margin / impression (95 %)"].map((h, i) => el("th", i ? {class: "num", text: h} : {text: h})));
  const rows = s.offers.map((o) => {
    const bar = el("span", {class: "bar", style: `width:${Math.round(60 * (o.arm_share || 0))}px`});
    const margin = o.margin_per_impression === null ? "" : fmt(o.margin_per_impression) +
      (o.margin_low === null ? "" : ` [${fmt(o.margin_low)}, ${fmt(o.margin_high)}]`);
    return el("tr", {class: "offer", "data-offer": o.offer_id}, [
      el("td", {text: o.offer_id}), el("td", {class: "num", text: fmt(o.impressions, 0)}),
      el("td", {class: "num"}, [bar, " " + pct(o.arm_share)]), el("td", {class: "num", text: pct(o.exploration_share)}),
      el("td", {class: "num", text: pct(o.ctr)}), el("td", {class: "num", text: pct(o.conversion)}),
      el("td", {class: "num", text: margin})]);
  });
  target.replaceChildren(el("table", {class: "offers"}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", search);
  $("text-form").addEventListener("submit", coldStart);
  for (const row of document.querySelectorAll("tr.bundle")) {
    row.addEventListener("click", () => showComplements(row.dataset.product));
  }
  refreshStats();
  setInterval(refreshStats, 15000);
});
