// Render LaTeX strings with KaTeX, as the web page and Markdown viewers do, and report
// what does not render.  Usage: node katex_render.js KATEX_JS < strings.json
// Input: a JSON array of strings (display maths); output: a JSON array, null for a string
// that renders, else KaTeX's message.  strict: "error" makes LaTeX that real LaTeX would
// not accept (raw Unicode, unknown commands) an error, not a warning.
const katex = require(process.argv[2]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((s) => {
    try {
      katex.renderToString(s, { displayMode: true, throwOnError: true, strict: "error", trust: false });
      return null;
    } catch (e) {
      return String(e.message || e);
    }
  });
  process.stdout.write(JSON.stringify(out));
});
