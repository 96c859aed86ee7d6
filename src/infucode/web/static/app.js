// infucode workbench: build the encounter from the form (every field of the input contract), code it
// through the same API as everything else, and draw all that the API returns.
"use strict";
// The engine's routes, in the words a coder uses (the value sent is the engine's).
const ROUTES = [
  ["iv_infusion", "IV infusion"], ["iv_push", "IV push"], ["iv", "IV (push or infusion not documented)"],
  ["sc", "Subcutaneous injection (SC)"], ["sc_infusion", "Subcutaneous infusion"],
  ["im", "Intramuscular injection (IM)"], ["intra_arterial", "Intra-arterial"]];
const CLASSES = [["", "From the drug catalog"], ["chemotherapy", "Chemotherapy / complex drug"],
  ["therapeutic", "Therapeutic, prophylactic, diagnostic"], ["hydration", "Hydration"]];
// Fields in the main row, then those under "More".
const MAIN_TEXT = ["id", "drug", "hcpcs", "start", "stop", "dose_value", "dose_unit", "site"];
const MORE_TEXT = ["indication", "minutes", "volume_ml", "rate_ml_per_hr", "vial_size", "vial_unit", "discarded", "interruptions"];
const MORE_CHECKS = ["separate_site_required", "discontinued", "pump"];
const NUMBERS = new Set(["minutes", "volume_ml", "rate_ml_per_hr", "discarded"]);
const $ = (sel) => document.querySelector(sel);
let lastEncounter = null, lastResult = null, fileEncounters = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

const errBox = (name) => el("div", { class: "field-error", "data-field": name });
// A number as typed: a number when it reads as one, else the text (the server then names the field).
const asNumber = (v) => (v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v);

function routeSelect(value, label) {
  const s = el("select", { name: "route", "aria-label": label });
  s.append(el("option", { value: "", text: "— route —" }));
  for (const [v, text] of ROUTES) s.append(el("option", { value: v, text }));
  s.value = value ?? "";
  return s;
}

function addRow(adm = {}) {
  const n = document.querySelectorAll("#adm-table tbody.adm").length + 1;
  const body = el("tbody", { class: "adm" });
  const input = (name, value, label, attrs = {}) => {
    const i = el("input", { name, "aria-label": `${label} ${n}`, ...attrs });
    i.value = value ?? "";
    return i;
  };
  const td = (...c) => el("td", {}, ...c);
  const cell = (name, value, label, attrs) => td(input(name, value, label, attrs), errBox(name));
  const primary = el("input", { type: "checkbox", name: "primary", "aria-label": `Primary ${n}` });
  primary.checked = !!adm.primary;
  const more = el("button", { type: "button", class: "more-btn", "aria-expanded": "false", "aria-label": `More fields ${n}`, text: "More" });
  const remove = el("button", { type: "button", "aria-label": `Remove administration ${n}`, text: "×" });
  remove.addEventListener("click", () => body.remove());
  const main = el("tr", { class: "main" },
    cell("id", adm.id ?? `a${n}`, "Id", { size: 6 }), cell("drug", adm.drug, "Drug"),
    cell("hcpcs", adm.hcpcs, "HCPCS", { size: 6 }),
    td(routeSelect(adm.route, `Route ${n}`), errBox("route")),
    cell("start", adm.start, "Start", { size: 8 }), cell("stop", adm.stop, "Stop", { size: 8 }),
    cell("dose_value", adm.dose?.value, "Dose", { size: 5 }), cell("dose_unit", adm.dose?.unit, "Dose unit", { size: 4 }),
    cell("site", adm.site, "Site"), td(primary), td(more), td(remove));
  // "More": the rest of the input contract, collapsed.
  const cls = el("select", { name: "class", "aria-label": `Drug class ${n}` });
  for (const [v, text] of CLASSES) cls.append(el("option", { value: v, text }));
  cls.value = adm.class ?? "";
  const field = (name, label, value, attrs = {}) => el("label", {}, label, input(name, value, label, attrs), errBox(name));
  const check = (name, label, value) => {
    const c = el("input", { type: "checkbox", name, "aria-label": `${label} ${n}` });
    c.checked = !!value;
    return el("label", { class: "check" }, c, ` ${label}`);
  };
  const singleDose = el("input", { type: "checkbox", name: "vial_single_dose", "aria-label": `Single-dose vial ${n}` });
  singleDose.checked = adm.vial ? adm.vial.single_dose !== false : true;
  const interruptions = (adm.interruptions || []).map((x) => `${x.start} to ${x.stop}`).join("; ");
  const grid = el("div", { class: "grid" },
    el("label", {}, "Drug class", cls, errBox("class")),
    field("indication", "Indication", adm.indication, { size: 22 }),
    field("minutes", "Minutes (no clock)", adm.minutes, { size: 5 }),
    field("volume_ml", "Volume (mL)", adm.volume_ml, { size: 6 }),
    field("rate_ml_per_hr", "Rate (mL/hr)", adm.rate_ml_per_hr, { size: 6 }),
    field("vial_size", "Vial size", adm.vial?.size, { size: 5 }),
    field("vial_unit", "Vial unit", adm.vial?.unit, { size: 4 }),
    el("label", { class: "check" }, singleDose, " Single-dose vial"),
    field("discarded", "Discarded (dose unit)", adm.discarded, { size: 5 }),
    field("interruptions", "Interruptions (10:00 to 10:15; ...)", interruptions, { size: 28 }),
    check("separate_site_required", "Separate site required", adm.separate_site_required),
    check("discontinued", "Discontinued", adm.discontinued), check("pump", "Pump", adm.pump));
  const moreRow = el("tr", { class: "more" }, el("td", { colspan: "12" }, grid));
  const hasMore = MORE_TEXT.some((k) => adm[k] !== undefined && adm[k] !== null) || adm.vial || adm.class ||
    (adm.interruptions || []).length || MORE_CHECKS.some((k) => adm[k]);
  const show = (open) => { moreRow.hidden = !open; more.setAttribute("aria-expanded", String(open)); more.textContent = open ? "Less" : "More"; };
  more.addEventListener("click", () => show(moreRow.hidden));
  show(!!hasMore);
  body.append(main, moreRow);
  $("#adm-table").append(body);
  return body;
}

function rows() { return [...document.querySelectorAll("#adm-table tbody.adm")]; }

function readRow(body) {
  const get = (n) => body.querySelector(`[name=${n}]`);
  const text = (n) => get(n).value.trim();
  const adm = { id: text("id") };
  for (const n of ["drug", "hcpcs", "start", "stop", "site", "indication"]) if (text(n)) adm[n] = text(n);
  if (get("class").value) adm.class = get("class").value;
  if (get("route").value) adm.route = get("route").value;
  for (const n of NUMBERS) if (text(n)) adm[n] = asNumber(text(n));
  if (text("dose_value") || text("dose_unit")) adm.dose = { value: asNumber(text("dose_value")), unit: text("dose_unit") };
  if (text("vial_size") || text("vial_unit")) {
    adm.vial = { size: asNumber(text("vial_size")), unit: text("vial_unit"), single_dose: get("vial_single_dose").checked };
  }
  if (text("interruptions")) {
    adm.interruptions = text("interruptions").split(";").map((p) => p.trim()).filter(Boolean).map((p) => {
      const [start, stop] = p.split(/\s+to\s+/);
      return { start: (start || "").trim(), stop: (stop || "").trim() };
    });
  }
  if (get("primary").checked) adm.primary = true;
  for (const n of MORE_CHECKS) if (get(n).checked) adm[n] = true;
  return adm;
}

function readForm() {
  const enc = { id: $("#enc-id").value.trim(), setting: $("#enc-setting").value, administrations: rows().map(readRow) };
  if ($("#enc-date").value) enc.date = $("#enc-date").value;
  if ($("#enc-claim").value) enc.claim = $("#enc-claim").value;
  if ($("#enc-payer").value.trim()) enc.payer = $("#enc-payer").value.trim();
  return enc;
}

function fillForm(enc) {
  $("#enc-id").value = enc.id ?? "";
  if (enc.setting) $("#enc-setting").value = enc.setting;
  $("#enc-date").value = enc.date ?? "";     // a file without a date stays without one, as in the CLI
  $("#enc-claim").value = enc.claim ?? "";
  $("#enc-payer").value = enc.payer ?? "";
  rows().forEach((r) => r.remove());
  for (const adm of enc.administrations || []) addRow(adm);
}

function clearErrors() {
  document.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}

// administrations[2].dose.value -> row 3, field dose_value; interruptions[0].stop -> interruptions
function formField(path) {
  const [head, sub] = path.split(".");
  const name = head.replace(/\[\d+\]$/, "");
  if ((name === "dose" || name === "vial") && sub) return `${name}_${sub === "single_dose" ? "unit" : sub}`;
  if (name === "dose" || name === "vial") return `${name}_${name === "dose" ? "value" : "size"}`;
  return name;
}

function markCell(body, name, message) {
  const box = body && body.querySelector(`.field-error[data-field=${name}]`);
  if (!box) return false;
  box.textContent = message;
  const input = body.querySelector(`[name=${name}]`);
  if (input) input.classList.add("invalid");
  const more = box.closest("tr.more");
  if (more && more.hidden) body.querySelector(".more-btn").click();
  return true;
}

function showProblem(problem) {
  // Put the error next to the field it names: administrations[2].start -> row 3, start.
  const m = /^administrations\[(\d+)\]\.(.+)$/.exec(problem.field || "");
  if (m && markCell(rows()[Number(m[1])], formField(m[2]), problem.detail)) {
    const input = rows()[Number(m[1])].querySelector(".invalid");
    if (input) input.focus();
    return;
  }
  const where = [problem.encounter && `encounter ${problem.encounter}`, problem.field].filter(Boolean).join(", ");
  $("#err-encounter").textContent = `${where ? where + ": " : ""}${problem.detail || problem.title}`;
}

async function codeIt(ev) {
  ev?.preventDefault();
  clearErrors();
  const enc = readForm();
  const res = await fetch(`/v1/code?profile=${encodeURIComponent($("#enc-profile").value)}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(enc) });
  const body = await res.json();
  if (!res.ok) { showProblem(body); $("#results").hidden = true; lastResult = null; return; }
  lastEncounter = enc; lastResult = body;
  render(enc, body);
}

function render(enc, result) {
  $("#results").hidden = false;
  $("#res-meta").textContent = `Encounter ${result.encounter} · profile ${result.profile} · ${result.claim} claim`;
  const tbody = $("#lines-table tbody");
  tbody.replaceChildren();
  for (const l of result.lines) {
    tbody.append(el("tr", { class: `line line-${l.kind}`, "data-code": l.code, "data-kind": l.kind, title: l.source || "" },
      el("td", { class: "code", text: l.code }), el("td", { class: "units", text: String(l.units) }),
      el("td", { class: "modifiers", text: l.modifiers.join(" ") }),
      el("td", { text: l.kind === "drug" ? "Drug" : "Administration" }), el("td", { text: l.date || "" }),
      el("td", { text: l.administrations.join(", ") }), el("td", { text: l.wrvu.toFixed(2) }),
      el("td", { text: `${l.explanation} (${l.rule})` })));
  }
  $("#wrvu-total").textContent = `wRVU total: ${result.wrvu_total.toFixed(2)}`;
  const rel = Object.entries(result.data_releases || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  $("#data-releases").textContent = rel ? `Data: ${rel}` : "";
  const ul = $("#findings");
  ul.replaceChildren();
  for (const f of result.findings) {
    ul.append(el("li", { class: `finding sev-${f.severity}`, "data-rule": f.rule, "data-severity": f.severity,
      text: `${f.severity}: ${f.message} (${f.rule}${f.administrations.length ? "; " + f.administrations.join(", ") : ""})` }));
  }
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
    const codes = result.lines.filter((l) => l.kind === "administration" && l.administrations.includes(a.id))
      .map((l) => (l.units > 1 ? `${l.code} x${l.units}` : l.code));
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
    const infusion = x.e !== null && !["iv_push", "sc", "im"].includes(x.a.route);
    add("text", { x: 4, y: y + 15 }, `${x.a.id} ${x.a.drug || ""}`.slice(0, 26));
    const kind = !x.codes.length ? "bar-none" : infusion ? "bar-infusion" : x.a.route === "iv_push" ? "bar-push" : "bar-other";
    const w = infusion ? Math.max(3, X(x.e) - X(x.s)) : 4;
    add("rect", { x: X(x.s), y, width: w, height: 20, rx: 3, class: `bar ${kind}`, "data-admin": x.a.id });
    if (infusion) {
      // The 30-minute thresholds: past 1:30, 2:30 ... from the start a further hour counts (CPT: more than 30).
      for (let t = x.s + 90; t < x.e + 60; t += 60) if (t <= hi) add("line", { x1: X(t), x2: X(t), y1: y - 2, y2: y + 22, class: "threshold" });
    }
    add("text", { x: X(x.s) + w + 4, y: y + 15, class: "bar-label" }, x.codes.length ? x.codes.join(", ") : "not reported");
  });
  box.append(svg);
}

// Pasted rows: every cell is read on the server by the shared vocabulary; a cell it cannot read is
// marked on that cell and left empty, never filled with a default.
async function usePaste() {
  const lines = $("#paste-box").value.split(/\r?\n/).filter((l) => l.trim());
  const cells = lines.map((l) => l.split("\t"));
  clearErrors();
  const notes = $("#paste-notes");
  notes.replaceChildren();
  const body = { rows: cells };
  if ($("#enc-date").value) body.date = $("#enc-date").value;
  const res = await fetch(`/v1/rows?profile=${encodeURIComponent($("#enc-profile").value)}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const out = await res.json();
  if (!res.ok) { showProblem(out); return; }
  if (out.date && !$("#enc-date").value) $("#enc-date").value = out.date;
  rows().forEach((r) => r.remove());
  out.rows.forEach((row, i) => {
    const tb = addRow(row.administration);
    tb.dataset.pasted = String(i + 1);
    for (const c of row.cells) {
      const name = c.column === "dose" ? "dose_value" : c.column === "date" ? "start" : c.column;
      if (c.error) {
        markCell(tb, name, c.error);
        notes.append(el("li", { class: "sev-error", "data-row": String(i + 1), "data-column": c.column, text: `row ${i + 1}, ${c.column}: ${c.error}` }));
      } else if (c.note) {
        const box = tb.querySelector(`.field-error[data-field=${name}]`);
        if (box) box.append(el("span", { class: "note", text: c.note }));
        notes.append(el("li", { class: "sev-info", "data-row": String(i + 1), "data-column": c.column, text: `row ${i + 1}: ${c.note}` }));
      }
    }
  });
}

function showFileErrors(errors) {
  const ul = $("#file-errors");
  ul.replaceChildren();
  for (const e of errors || []) {
    const where = [e.encounter && `encounter ${e.encounter}`, e.line && `line ${e.line}`, e.field && `field ${e.field}`].filter(Boolean).join(", ");
    ul.append(el("li", { class: "file-error", text: `${where ? where + ": " : ""}${e.detail}` }));
  }
}

async function openFile(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  clearErrors();
  showFileErrors([]);
  const form = new FormData();
  form.append("file", file);
  const res = await fetch("/v1/files/parse", { method: "POST", body: form });
  const body = await res.json();
  ev.target.value = "";        // the same file can be opened again
  if (!res.ok) {
    $("#results").hidden = true;
    $("#pick-label").hidden = true;
    showFileErrors(body.errors && body.errors.length ? body.errors : [body]);
    return;
  }
  fileEncounters = body.encounters;
  showFileErrors(body.errors);
  const pick = $("#enc-pick");
  pick.replaceChildren(...fileEncounters.map((e, i) => el("option", { value: String(i), text: `${e.id} (${e.setting}, ${e.administrations.length} administrations)` })));
  $("#pick-label").hidden = fileEncounters.length < 2;
  if (fileEncounters.length) { fillForm(fileEncounters[0]); await codeIt(); }
}

async function pickEncounter() {
  fillForm(fileEncounters[Number($("#enc-pick").value)]);
  await codeIt();
}

async function saveCase() {
  await codeIt();              // the case is what the form says now, coded now
  if (!lastResult) return;
  const author = prompt("Your name or coder id, for the audit trail:");
  if (!author) return;
  const res = await fetch(`/v1/cases?profile=${encodeURIComponent($("#enc-profile").value)}`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ encounter: lastEncounter, author }) });
  const body = await res.json();
  $("#save-status").textContent = res.ok ? `Saved as case ${body.id}.` : `Not saved: ${body.detail}`;
  if (res.ok) $("#save-status").dataset.caseId = String(body.id);
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
  if (!res.ok) { $("#reference").textContent = a.detail; return; }
  // The answer's text has no Rules/Sources block (the terminal adds one); the page adds it here, once.
  const block = [];
  if (a.rule_ids && a.rule_ids.length) block.push(`Rules: ${a.rule_ids.join(", ")}`);
  if (a.sources && a.sources.length) block.push(`Sources: ${a.sources.join("; ")}`);
  $("#reference").textContent = block.length ? `${a.text}\n\n${block.join("\n")}` : a.text;
}

$("#lookup-form").addEventListener("submit", lookupCode);
$("#ask-form").addEventListener("submit", askQuestion);
$("#add-row").addEventListener("click", () => addRow().querySelector("input[name=drug]").focus());
$("#encounter-form").addEventListener("submit", codeIt);
$("#paste-btn").addEventListener("click", usePaste);
$("#file-input").addEventListener("change", openFile);
$("#enc-pick").addEventListener("change", pickEncounter);
$("#save-btn").addEventListener("click", saveCase);
$("#enc-date").value = today();
addRow({ id: "a1", route: "iv_infusion" });
