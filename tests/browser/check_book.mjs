// Headless-browser check of built HTML pages (the book, or a test page):
//   node tests/browser/check_book.mjs DIR [PAGE.html ...] [--min-axes N]
// Serves DIR on 127.0.0.1, opens each page (default: every .html under DIR/book and DIR/index.html)
// in Debian's chromium with playwright-core, and fails when
//   - a request goes to any other origin than the local server (data: URLs are fine),
//   - a request fails or answers >= 400, the console logs an error or warning, or the page throws,
//   - a page is 2 MB or larger,
//   - on a page with slider controls (.tdlib-gridview): moving a slider does not change the figure
//     and the numbers, or fewer than --min-axes sliders can move (default 1),
//   - at 1280 px, the page or an element of its text column overflows horizontally (a code block, table,
//     equation or figure wider than its box or than the column: cut off, or scrolled sideways),
//   - the text shows a raw object repr (`<IPython.core.display.Markdown object>`, `<... at 0x...>`),
//   - a claims table (.tdlib-claims) is taller than 25% of the page,
//   - at a phone's width (390 px), the page scrolls sideways or an element sticks out of the text column
//     (cut off); there a wide table, listing or equation may scroll inside its own box. The theme's
//     sidebars are drawers at this width, off the screen until opened (their "On this page" icon sits at
//     414-432 px), so what lies inside them is not content and is not checked.
// SHOTS=DIR: screenshots of each slider view. Prints one line per page and a closing "N passed, N failed" line.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
let minAxes = 1;
const rest = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-axes") minAxes = Number(args[++i]);
  else rest.push(args[i]);
}
const root = path.resolve(rest[0] || "_build/html");
let pages = rest.slice(1);
if (!pages.length) {
  const bookDir = path.join(root, "book");
  pages = ["index.html", ...(fs.existsSync(bookDir) ? fs.readdirSync(bookDir).filter((f) => f.endsWith(".html")).sort().map((f) => `book/${f}`) : [])]
    .filter((p) => fs.existsSync(path.join(root, p)));
}
const MAX_BYTES = 2 * 1024 * 1024;
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
  ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".json": "application/json", ".ico": "image/x-icon" };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  let file = path.join(root, decodeURIComponent(url.pathname));
  if (!file.startsWith(root)) { res.writeHead(403); return res.end(); }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
  if (!fs.existsSync(file)) { res.writeHead(404); return res.end("not found"); }
  res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let passed = 0, failed = 0;
for (const rel of pages) {
  const problems = [];
  const size = fs.statSync(path.join(root, rel)).size;
  if (size >= MAX_BYTES) problems.push(`page is ${(size / 1e6).toFixed(2)} MB (limit 2 MB)`);
  const context = await browser.newContext();
  const page = await context.newPage();
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    problems.push(`request leaves the site: ${u}`);
    return route.abort();
  });
  page.on("console", (m) => { if (["error", "warning"].includes(m.type())) problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => { if (r.url().startsWith(origin)) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`); });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  let loaded = 0;                                    // bytes of the page and everything it loaded
  page.on("requestfinished", async (r) => { try { loaded += (await r.sizes()).responseBodySize; } catch {} });
  await page.goto(`${origin}/${rel}`, { waitUntil: "load" });
  await page.waitForTimeout(1500);          // late scripts (MathJax, widgets) and their requests
  const notes = [];
  const layout = await page.evaluate(() => {
    const out = [];
    const main = document.querySelector("main, article, .bd-article, body");
    const right = main.getBoundingClientRect().right;
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
      out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} px wide at ${window.innerWidth} px`);
    const sel = "pre, table, mjx-container[display='true'], div.math, img, .cell_output, .output, svg";
    const seen = new Set();
    for (const el of main.querySelectorAll(sel)) {
      if (el.closest(".tdlib-gridview") && el.tagName === "TABLE") continue;   // checked by its own test
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      const what = `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""}`;
      const text = (el.innerText || el.getAttribute("alt") || "").trim().slice(0, 50).replace(/\s+/g, " ");
      let why = null;
      if (el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0) why = `${el.scrollWidth} px of content in a ${el.clientWidth} px box`;
      else if (r.right > right + 2) why = `right edge ${Math.round(r.right)} px beyond the column's ${Math.round(right)} px`;
      if (why && !seen.has(what + text)) { seen.add(what + text); out.push(`overflows: ${what} "${text}": ${why}`); }
    }
    const body = document.body.innerText;
    const repr = body.match(/<[A-Za-z_][\w.]* object( at 0x[0-9a-f]+)?>/);
    if (repr) out.push(`raw object repr in the text: ${repr[0]}`);
    const H = document.documentElement.scrollHeight;
    for (const t of document.querySelectorAll(".tdlib-claims")) {
      const h = t.getBoundingClientRect().height;
      if (h > 0.25 * H) out.push(`claims table is ${Math.round(h)} px of the page's ${H} px (${Math.round(100 * h / H)}%, limit 25%)`);
    }
    return out;
  });
  problems.push(...layout);
  await page.setViewportSize({ width: 390, height: 844 });       // a phone (iPhone 12-15 CSS pixels)
  await page.waitForTimeout(300);
  const phone = await page.evaluate(() => {
    const out = [];
    const main = document.querySelector("main, article, .bd-article, body");
    const right = Math.min(main.getBoundingClientRect().right, window.innerWidth);
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
      out.push(`at 390 px the page scrolls sideways: ${document.documentElement.scrollWidth} px wide`);
    for (const el of main.querySelectorAll("pre, table, mjx-container[display='true'], div.math, img, svg, .cell_output")) {
      if (el.closest(".bd-sidebar-secondary, .bd-sidebar-primary")) continue;   // off-canvas drawers
      if (el.closest("pre, .highlight, .table-wrapper, .pst-scrollable-table-container, mjx-container, .cell_output") !== el
          && el.closest("pre, .highlight, .table-wrapper, .pst-scrollable-table-container, mjx-container, .cell_output")) continue;
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (r.right > right + 2) out.push(`at 390 px cut off: ${el.tagName.toLowerCase()} "${(el.innerText || el.getAttribute("alt") || "").trim().slice(0, 40).replace(/\s+/g, " ")}" ends at ${Math.round(r.right)} px, the column at ${Math.round(right)} px`);
    }
    return out;
  });
  problems.push(...phone);
  await page.setViewportSize({ width: 1280, height: 720 });
  for (const view of await page.locator(".tdlib-gridview").all()) {
    const sliders = view.locator("input.gv-slider:not([disabled])");
    const n = await sliders.count();
    if (n < minAxes) problems.push(`grid view has ${n} movable slider(s), want >= ${minAxes}`);
    for (let i = 0; i < n; i++) {
      const s = sliders.nth(i);
      const name = await s.getAttribute("aria-label");
      const before = { img: await view.locator("img.gv-figure").getAttribute("src"), nums: await view.locator("table.gv-numbers").innerText() };
      const label0 = await view.locator(`output[data-axis='${await s.getAttribute("data-axis")}']`).innerText();
      await s.focus();
      await page.keyboard.press("ArrowRight");
      const after = { img: await view.locator("img.gv-figure").getAttribute("src"), nums: await view.locator("table.gv-numbers").innerText() };
      const label1 = await view.locator(`output[data-axis='${await s.getAttribute("data-axis")}']`).innerText();
      const ok = before.img !== after.img && before.nums !== after.nums && label0 !== label1;
      if (!ok) problems.push(`moving ${name} from ${label0} to ${label1} did not change the figure and the numbers`);
      notes.push(`${name} ${label0}->${label1}: figure ${before.img === after.img ? "same" : "changed"}, numbers ${before.nums === after.nums ? "same" : "changed"}`);
      await page.keyboard.press("ArrowLeft");
    }
    if (process.env.SHOTS) await view.screenshot({ path: path.join(process.env.SHOTS, `${path.basename(rel, ".html")}-gridview.png`) });
  }
  await context.close();
  const head = `${problems.length ? "FAIL" : "ok  "} ${rel} (page ${(size / 1e6).toFixed(2)} MB; loaded with its files ${(loaded / 1e6).toFixed(2)} MB)`;
  console.log([head, ...notes.map((n) => `     ${n}`), ...problems.map((p) => `     ${p}`)].join("\n"));
  problems.length ? failed++ : passed++;
}
await browser.close();
server.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
