// matcalc's page: it sends what is typed to POST /api and shows the answers. It holds no
// mathematics of its own. Every user-supplied string is shown with textContent (never as
// HTML); LaTeX from matcalc is typeset by the KaTeX shipped with matcalc (trust off).
//
// The answer follows the typing: TYPING_MS after the last keystroke the page asks again,
// and the request still under way is cancelled (AbortController), so the server stops it.
"use strict";

const $ = (id) => document.getElementById(id);
const FIELDS = ["expr", "wrt", "where", "layout", "mode", "claim"];
const TYPING_MS = 300; // quiet time after a keystroke before the page asks
const RETRIES = 3; // a busy server (503) is asked again after its Retry-After, this many times
const timers = {}; // the pending "ask when the typing stops", by kind

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// The answer to one request, or null when the request was cancelled.
async function api(request, signal) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch("/api", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
        signal,
      });
    } catch (e) {
      if (signal.aborted) return null;
      return { kind: "error", error: "the server did not answer (is matcalc serve still running?)", pretty: "" };
    }
    if (response.status === 503 && attempt < RETRIES) {
      await sleep((Number(response.headers.get("Retry-After")) || 1) * 1000, signal);
      if (signal.aborted) return null;
      continue;
    }
    try {
      return await response.json();
    } catch (e) {
      if (signal.aborted) return null;
      return { kind: "error", error: `the server answered ${response.status}`, pretty: "" };
    }
  }
}

// One AbortController per kind of work: starting again cancels what is under way.
const work = {};
function restart(kind) {
  if (work[kind]) work[kind].abort();
  work[kind] = new AbortController();
  return work[kind].signal;
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

function showBoxes(shown) {
  for (const id of ["claimbox", "latexbox", "codebox"]) $(id).hidden = !shown;
}

function hideCode() {
  codeFor = null;
  $("code").hidden = true;
  $("copycode").hidden = true;
}

let wantCode = false; // the address asked for the code too
let codeFor = null; // what the code shown (or coming) was generated for

function codeKey() {
  const req = request();
  return JSON.stringify([req.kind, req.expr, req.wrt, req.where]);
}

async function differentiate() {
  clearTimeout(timers.expr);
  saveState();
  const signal = restart("answer");
  const out = $("out");
  const req = request();
  if (!req.expr.trim() || !req.wrt) {
    restart("claim");
    out.replaceChildren();
    showBoxes(false);
    return;
  }
  out.classList.add("stale"); // the previous answer stays, dimmed, until the new one comes
  if (!out.firstChild) out.replaceChildren(textBlock("working…", "hint"));
  const d = await api({ ...req, check: false }, signal);
  if (!d) return;
  out.classList.remove("stale");
  if (d.kind === "error") {
    restart("claim");
    out.replaceChildren(heading("Error"), textBlock(d.pretty || d.error, "error"));
    showBoxes(false);
    return;
  }
  const parts = [heading(req.kind === "hessian" ? "Hessian" : "Derivative"), typeset(d.latex_block, true)];
  if ($("steps").checked && d.steps_latex) parts.push(heading("Derivation"), typeset(d.steps_latex, true));
  const check = textBlock("checking with SymPy…", "verdict unchecked");
  check.id = "check";
  parts.push(check);
  out.replaceChildren(...parts);
  $("latex").value = d.latex_block + (d.steps_latex && $("steps").checked ? "\n\n" + d.steps_latex : "");
  showBoxes(true);
  if ($("claim").value.trim()) checkClaim();
  else $("verdict").replaceChildren();
  if (wantCode) {
    wantCode = false;
    generateCode();
  } else if (codeKey() !== codeFor) {  // the code shown (or coming) is for another expression
    restart("code");
    hideCode();
  }
  // the check's verdict as it arrives
  const c = await api({ ...req, check: true }, signal);
  if (!c) return;
  if (c.kind === "error") {
    check.textContent = "the check failed: " + c.error;
    return;
  }
  const status = c.check ? c.check.status : "unchecked";
  check.className = "verdict " + (status === "verified" ? "ok" : status === "wrong" ? "wrong" : "unchecked");
  check.textContent = c.check_text || status;
}

async function checkClaim() {
  clearTimeout(timers.claim);
  saveState();
  const signal = restart("claim");
  const box = $("verdict");
  const req = request();
  if (!$("claim").value.trim() || !req.expr.trim() || !req.wrt) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(textBlock("checking your answer with SymPy…", "verdict unchecked"));
  const v = await api({ kind: "check", expr: req.expr, wrt: req.wrt, where: req.where, layout: req.layout,
                        claim: $("claim").value, hessian: req.kind === "hessian" }, signal);
  if (!v) return;
  if (v.kind === "error") {
    box.replaceChildren(textBlock(v.pretty || v.error, "error"));
    return;
  }
  const cls = v.status === "verified" ? "ok" : v.status === "wrong" ? "wrong" : "unchecked";
  box.replaceChildren(textBlock(v.text, "verdict " + cls));
}

async function generateCode() {
  const signal = restart("code");
  const req = request();
  codeFor = codeKey();
  const code = $("code");
  code.hidden = false;
  code.className = "hint";
  code.textContent = "generating…";
  $("copycode").hidden = true;
  const d = await api({ kind: "codegen", expr: req.expr, wrt: req.wrt, where: req.where, target: $("target").value,
                        hessian: req.kind === "hessian" }, signal);
  if (!d) return;
  code.className = d.kind === "error" ? "error" : "";
  code.textContent = d.kind === "error" ? (d.pretty || d.error) : d.source;
  $("copycode").hidden = d.kind === "error";
  saveState();
}

// Copy to the clipboard; where the page is not a secure context (http:// from another
// machine) the Clipboard API is missing and a selected text area is copied instead.
async function copy(text, button) {
  let done = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch (e) {
      done = false;
    }
  }
  if (!done) {
    const area = document.createElement("textarea");
    area.value = text;
    area.readOnly = true;
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    try {
      done = document.execCommand("copy");
    } catch (e) {
      done = false;
    }
    area.remove();
    button.focus();
  }
  button.textContent = done ? "copied" : "press Ctrl-C";
  setTimeout(() => { button.textContent = "copy"; }, 2000);
}

function later(kind, action) {
  clearTimeout(timers[kind]);
  timers[kind] = setTimeout(action, TYPING_MS);
}

for (const id of ["expr", "wrt", "where"]) $(id).addEventListener("input", () => later("expr", differentiate));
for (const id of ["mode", "layout", "steps"]) $(id).addEventListener("change", differentiate);
$("claim").addEventListener("input", () => later("claim", checkClaim));
$("form").addEventListener("submit", (e) => { e.preventDefault(); differentiate(); });
$("claimform").addEventListener("submit", (e) => { e.preventDefault(); checkClaim(); });
$("gencode").addEventListener("click", generateCode);
$("target").addEventListener("change", () => { if (!$("code").hidden) generateCode(); });
$("copycode").addEventListener("click", () => copy($("code").textContent, $("copycode")));
$("copylatex").addEventListener("click", () => copy($("latex").value, $("copylatex")));

const initial = loadState();
wantCode = Boolean(initial.get("code"));
if (initial.get("expr") && initial.get("wrt")) differentiate();
