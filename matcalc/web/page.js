// matcalc's page: it sends what is typed to POST /api and shows the answers. It holds no
// mathematics of its own. Every user-supplied string is shown with textContent (never as
// HTML); LaTeX from matcalc is typeset by the KaTeX shipped with matcalc (trust off).
"use strict";

const $ = (id) => document.getElementById(id);
const FIELDS = ["expr", "wrt", "where", "layout", "mode", "claim"];

async function api(request) {
  const response = await fetch("/api", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  try {
    return await response.json();
  } catch (e) {
    return { kind: "error", error: `the server answered ${response.status}`, pretty: "" };
  }
}

function typeset(latex, display) {
  const el = document.createElement("div");
  el.className = "math";
  try {
    katex.render(latex, el, { displayMode: display, throwOnError: true, trust: false, strict: "ignore" });
  } catch (e) {
    el.textContent = latex; // shown as text, never as HTML
  }
  return el;
}

function textBlock(text, cls) {
  const pre = document.createElement("pre");
  if (cls) pre.className = cls;
  pre.textContent = text;
  return pre;
}

function heading(text) {
  const h = document.createElement("h2");
  h.textContent = text;
  return h;
}

function request() {
  return {
    kind: $("mode").value === "hessian" ? "hessian" : "diff",
    expr: $("expr").value,
    wrt: $("wrt").value.trim(),
    where: $("where").value,
    layout: $("layout").value,
  };
}

function saveState() {
  const state = new URLSearchParams();
  for (const f of FIELDS) {
    const v = $(f).value;
    if (v && !(f === "layout" && v === "denominator") && !(f === "mode" && v === "diff")) state.set(f, v);
  }
  if ($("steps").checked) state.set("steps", "1");
  if (!$("code").hidden && $("code").className !== "error") state.set("code", $("target").value);
  history.replaceState(null, "", state.toString() ? `?${state}` : location.pathname);
}

function loadState() {
  const state = new URLSearchParams(location.search);
  for (const f of FIELDS) if (state.has(f)) $(f).value = state.get(f);
  $("steps").checked = state.get("steps") === "1";
  if (["numpy", "jax", "torch"].includes(state.get("code"))) $("target").value = state.get("code");
  return state;
}

let generation = 0; // answers to an older request are dropped
let wantCode = false; // the address asked for the code too

async function differentiate() {
  saveState();
  const mine = ++generation;
  const out = $("out");
  const req = request();
  out.replaceChildren(textBlock("working…", "hint"));
  for (const id of ["claimbox", "latexbox", "codebox"]) $(id).hidden = true;
  const d = await api({ ...req, check: false });
  if (mine !== generation) return;
  if (d.kind === "error") {
    out.replaceChildren(heading("Error"), textBlock(d.pretty || d.error, "error"));
    return;
  }
  const parts = [heading(req.kind === "hessian" ? "Hessian" : "Derivative"), typeset(d.latex_block, true)];
  if ($("steps").checked && d.steps_latex) parts.push(heading("Derivation"), typeset(d.steps_latex, true));
  const check = textBlock("checking with SymPy…", "verdict unchecked");
  check.id = "check";
  parts.push(check);
  out.replaceChildren(...parts);
  $("latex").value = d.latex_block + (d.steps_latex && $("steps").checked ? "\n\n" + d.steps_latex : "");
  for (const id of ["claimbox", "latexbox", "codebox"]) $(id).hidden = false;
  if ($("claim").value) checkClaim();
  if (wantCode) {
    wantCode = false;
    generateCode();
  }
  // the check's verdict as it arrives
  const c = await api({ ...req, check: true });
  if (mine !== generation) return;
  if (c.kind === "error") {
    check.textContent = "the check failed: " + c.error;
    return;
  }
  const status = c.check ? c.check.status : "unchecked";
  check.className = "verdict " + (status === "verified" ? "ok" : status === "wrong" ? "wrong" : "unchecked");
  check.textContent = c.check_text || status;
}

async function checkClaim() {
  saveState();
  const box = $("verdict");
  box.replaceChildren(textBlock("checking your answer with SymPy…", "verdict unchecked"));
  const req = request();
  const v = await api({ kind: "check", expr: req.expr, wrt: req.wrt, where: req.where, layout: req.layout,
                        claim: $("claim").value, hessian: req.kind === "hessian" });
  if (v.kind === "error") {
    box.replaceChildren(textBlock(v.pretty || v.error, "error"));
    return;
  }
  const cls = v.status === "verified" ? "ok" : v.status === "wrong" ? "wrong" : "unchecked";
  box.replaceChildren(textBlock(v.text, "verdict " + cls));
}

async function generateCode() {
  const req = request();
  const d = await api({ kind: "codegen", expr: req.expr, wrt: req.wrt, where: req.where, target: $("target").value,
                        hessian: req.kind === "hessian" });
  const code = $("code");
  code.hidden = false;
  code.className = d.kind === "error" ? "error" : "";
  code.textContent = d.kind === "error" ? (d.pretty || d.error) : d.source;
  $("copycode").hidden = d.kind === "error";
  saveState();
}

function copy(text) {
  if (navigator.clipboard) navigator.clipboard.writeText(text);
}

$("form").addEventListener("submit", (e) => { e.preventDefault(); differentiate(); });
$("checkclaim").addEventListener("click", checkClaim);
$("gencode").addEventListener("click", generateCode);
$("copycode").addEventListener("click", () => copy($("code").textContent));
$("copylatex").addEventListener("click", () => copy($("latex").value));

const initial = loadState();
wantCode = Boolean(initial.get("code"));
if (initial.get("expr") && initial.get("wrt")) differentiate();
