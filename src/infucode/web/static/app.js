// infucode workbench: build the encounter from the form, code it through the API, draw the result.
"use strict";
const ROUTES = ["iv_infusion", "iv_push", "sc", "im", "sc_infusion", "intra_arterial", "iv"];
const $ = (sel) => document.querySelector(sel);
let lastEncounter = null, lastResult = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function addRow(adm = {}) {
  const rows = $("#adm-rows");
  const i = rows.children.length;
  const route = el("select", { name: "route", "aria-label": `Route ${i + 1}` });
  for (const r of ROUTES) route.append(el("option", { value: r, text: r }));
  route.value = adm.route || "iv_infusion";
  const cell = (name, value, label) => {
    const input = el("input", { name, "aria-label": `${label} ${i + 1}` });
    input.value = value ?? "";
    return el("td", {}, input, el("div", { class: "field-error", "data-field": name }));
  };
  const primary = el("input", { type: "checkbox", name: "primary", "aria-label": `Primary ${i + 1}` });
  primary.checked = !!adm.primary;
  const remove = el("button", { type: "button", "aria-label": `Remove administration ${i + 1}`, text: "×" });
  remove.addEventListener("click", () => tr.remove());
  const tr = el("tr", {},
    cell("id", adm.id ?? `a${i + 1}`, "Id"), cell("drug", adm.drug, "Drug"),
    el("td", {}, route, el("div", { class: "field-error", "data-field": "route" })),
    cell("start", adm.start, "Start"), cell("stop", adm.stop, "Stop"), cell("site", adm.site, "Site"),
    el("td", {}, primary), el("td", {}, remove));
  rows.append(tr);
  return tr;
}

function readForm() {
  const enc = { id: $("#enc-id").value.trim(), setting: $("#enc-setting").value, administrations: [] };
  if ($("#enc-date").value) enc.date = $("#enc-date").value;
  for (const tr of $("#adm-rows").children) {
    const get = (n) => tr.querySelector(`[name=${n}]`);
    const adm = { id: get("id").value.trim(), route: get("route").value };
    for (const n of ["drug", "start", "stop", "site"]) if (get(n).value.trim()) adm[n] = get(n).value.trim();
    if (get("primary").checked) adm.primary = true;
    enc.administrations.push(adm);
  }
  return enc;
}

function fillForm(enc) {
  $("#enc-id").value = enc.id ?? "case-1";
  if (enc.setting) $("#enc-setting").value = enc.setting;
  if (enc.date) $("#enc-date").value = enc.date;
  $("#adm-rows").replaceChildren();
  for (const adm of enc.administrations || []) {
    const a = { ...adm };
    for (const k of ["start", "stop"]) if (a[k] && String(a[k]).includes("T")) a[k] = String(a[k]).slice(11, 16);
    addRow(a);
  }
}

function clearErrors() {
  document.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  document.querySelectorAll("input.invalid").forEach((e) => e.classList.remove("invalid"));
}

function showProblem(problem) {
  // Put the error next to the field it names: administrations[2].start -> row 3, start.
  const m = /^administrations\[(\d+)\]\.(\w+)/.exec(problem.field || "");
  if (m) {
    const tr = $("#adm-rows").children[Number(m[1])];
    const box = tr && tr.querySelector(`.field-error[data-field=${m[2]}]`);
    const input = tr && tr.querySelector(`[name=${m[2]}]`);
    if (box) { box.textContent = problem.detail; if (input) { input.classList.add("invalid"); input.focus(); } return; }
  }
  $("#err-encounter").textContent = `${problem.field ? problem.field + ": " : ""}${problem.detail || problem.title}`;
}

async function codeIt(ev) {
  ev?.preventDefault();
  clearErrors();
  const enc = readForm();
  const res = await fetch(`/v1/code?profile=${encodeURIComponent($("#enc-profile").value)}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(enc) });
  const body = await res.json();
  if (!res.ok) { showProblem(body); $("#results").hidden = true; return; }
  lastEncounter = enc; lastResult = body;
  render(enc, body);
}

function render(enc, result) {
  $("#results").hidden = false;
  $("#res-meta").textContent = `Encounter ${result.encounter} · profile ${result.profile} · ${result.claim} claim`;
  const tbody = $("#lines-table tbody");
  tbody.replaceChildren();
  for (const l of result.lines) {
    tbody.append(el("tr", { class: `line line-${l.kind}`, "data-code": l.code },
      el("td", { text: l.code }), el("td", { class: "units", text: String(l.units) }),
      el("td", { text: l.modifiers.join(" ") }), el("td", { text: l.date || "" }),
      el("td", { text: l.administrations.join(", ") }), el("td", { text: l.wrvu.toFixed(2) }),
      el("td", { text: l.explanation })));
  }
  $("#wrvu-total").textContent = `wRVU total: ${result.wrvu_total.toFixed(2)}`;
  const ul = $("#findings");
  ul.replaceChildren();
  for (const f of result.findings) ul.append(el("li", { class: `sev-${f.severity}`, text: `${f.severity}: ${f.message} (${f.rule})` }));
  if (!result.findings.length) ul.append(el("li", { text: "No findings." }));
  drawTimeline(enc, result);
}

function minutesOf(t) {
  const m = /(\d{1,2}):?(\d{2})$/.exec(String(t || "").slice(-5));
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

function drawTimeline(enc, result) {
  const NS = "http://www.w3.org/2000/svg";
  const items = enc.administrations.map((a) => {
    const s = minutesOf(a.start); let e = minutesOf(a.stop);
    if (s !== null && e !== null && e < s) e += 24 * 60;  // crosses midnight
    const codes = result.lines.filter((l) => l.administrations.includes(a.id)).map((l) => l.units > 1 ? `${l.code} x${l.units}` : l.code);
    return { a, s, e, codes };
  }).filter((x) => x.s !== null);
  const box = $("#timeline");
  box.replaceChildren();
  if (!items.length) { box.textContent = "No clock times to draw."; return; }
  const lo = Math.floor(Math.min(...items.map((x) => x.s)) / 60) * 60;
  const hi = Math.ceil(Math.max(...items.map((x) => (x.e ?? x.s) + 1)) / 60) * 60;
  const W = 1000, left = 170, right = 190, rowH = 34, H = 30 + items.length * rowH;
  const X = (m) => left + ((m - lo) / (hi - lo)) * (W - left - right);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    svg.append(n); return n;
  };
  for (let m = lo; m <= hi; m += 60) {
    add("line", { x1: X(m), x2: X(m), y1: 14, y2: H, class: "hour" });
    add("text", { x: X(m) + 2, y: 11 }, `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:00`);
  }
  items.forEach((x, i) => {
    const y = 22 + i * rowH;
    const infusion = x.e !== null && x.a.route !== "iv_push";
    add("text", { x: 4, y: y + 15 }, `${x.a.id} ${x.a.drug || ""}`.slice(0, 26));
    const kind = !x.codes.length ? "bar-none" : infusion ? "bar-infusion" : x.a.route === "iv_push" ? "bar-push" : "bar-other";
    const w = infusion ? Math.max(3, X(x.e) - X(x.s)) : 4;
    add("rect", { x: X(x.s), y, width: w, height: 20, rx: 3, class: `bar ${kind}`, "data-admin": x.a.id });
    if (infusion) {
      // The 30-minute thresholds: past 1:30, 2:30 ... from the start an added hour counts (CPT: more than 30).
      for (let t = x.s + 90; t < x.e + 60; t += 60) if (t <= hi) add("line", { x1: X(t), x2: X(t), y1: y - 2, y2: y + 22, class: "threshold" });
    }
    add("text", { x: X(x.s) + w + 4, y: y + 15, class: "bar-label" }, x.codes.length ? x.codes.join(", ") : "not reported");
  });
  box.append(svg);
}

function usePaste() {
  const rows = $("#paste-box").value.split(/\r?\n/).filter((l) => l.trim());
  $("#adm-rows").replaceChildren();
  rows.forEach((line, i) => {
    const [drug, route, start, stop, site] = line.split("\t").map((c) => c.trim());
    addRow({ id: `a${i + 1}`, drug, route: ROUTES.includes(route) ? route : "iv_infusion", start, stop, site });
  });
}

async function openFile(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  clearErrors();
  const form = new FormData();
  form.append("file", file);
  const res = await fetch("/v1/files/parse", { method: "POST", body: form });
  const body = await res.json();
  if (!res.ok) { showProblem(body); return; }
  if (body.encounters.length) { fillForm(body.encounters[0]); await codeIt(); }
}

async function saveCase() {
  if (!lastResult) await codeIt();
  if (!lastResult) return;
  const author = prompt("Your name or coder id, for the audit trail:");
  if (!author) return;
  const res = await fetch(`/v1/cases?profile=${encodeURIComponent($("#enc-profile").value)}`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ encounter: lastEncounter, author }) });
  const body = await res.json();
  $("#save-status").textContent = res.ok ? `Saved as case ${body.id}.` : `Not saved: ${body.detail}`;
}

async function lookupCode(ev) {
  ev.preventDefault();
  const code = $("#lookup-code").value.trim();
  const res = await fetch(`/v1/codes/${encodeURIComponent(code)}`);
  const r = await res.json();
  if (!res.ok) { $("#reference").textContent = r.detail; return; }
  const mue = (m) => `${m.value ?? "none"} (MAI ${m.mai ?? "-"})`;
  const lines = [`${r.code}: ${r.description}`, `family ${r.family}, ${r.add_on ? "add-on" : "not an add-on"}` +
    (r.primaries.length ? `; eligible primaries ${r.primaries.join(" ")}` : ""),
    `wRVU ${r.wrvu}; MUE practitioner ${mue(r.mue.practitioner)}, outpatient hospital ${mue(r.mue.hospital)}`];
  if (r.time_rule) lines.push(`time: ${r.time_rule}`);
  for (const d of r.differentiation || []) lines.push(`${d.codes.join(" vs ")}${d.top_confusion ? " (top confusion point)" : ""}: ${d.decides} ${d.explanation}`);
  for (const x of r.related || []) lines.push(`related ${x.code}: ${x.how_it_differs}`);
  for (const x of r.documentation || []) lines.push(`document: ${x}`);
  for (const x of r.denials || []) lines.push(`denial risk: ${x}`);
  $("#reference").textContent = lines.join("\n");
}

async function askQuestion(ev) {
  ev.preventDefault();
  const res = await fetch("/v1/ask", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ question: $("#ask-text").value }) });
  const a = await res.json();
  $("#reference").textContent = res.ok ? `${a.text}\n\nRules: ${a.rule_ids.join(", ")}\nSources: ${a.sources.join("; ")}` : a.detail;
}

$("#lookup-form").addEventListener("submit", lookupCode);
$("#ask-form").addEventListener("submit", askQuestion);
$("#add-row").addEventListener("click", () => addRow().querySelector("input[name=drug]").focus());
$("#encounter-form").addEventListener("submit", codeIt);
$("#paste-btn").addEventListener("click", usePaste);
$("#file-input").addEventListener("change", openFile);
$("#save-btn").addEventListener("click", saveCase);
addRow({ id: "a1", drug: "", route: "iv_infusion" });
