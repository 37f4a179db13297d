// Opens a page with residents' satisfaction figures in Debian's Chromium through
// playwright-core and prints one JSON line with what it shows; test_feedback_terminal.py
// asserts.
//
//   node feedback.js status URL SCREENSHOT RESPONSES [CHROMIUM]
//     the status page: waits until its satisfaction figure stands on RESPONSES answers
//   node feedback.js report URL SCREENSHOT [CHROMIUM]
//     the report's HTML: its satisfaction key figures and the chart's bars
"use strict";
const { chromium } = require("playwright-core");

const [mode, url, screenshot, ...rest] = process.argv.slice(2);
const responses = mode === "status" ? rest.shift() : null;
const executablePath = rest[0] || "/usr/bin/chromium";

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    if (mode === "status") {
      await page.waitForSelector(`dd.satisfaction[data-responses="${responses}"]`, { timeout: 20000 });
      result.satisfaction = await page.$$eval("dd.satisfaction", (ds) => ds.map((d) => ({
        facility: d.closest(".facility")?.dataset.id ?? null, text: d.textContent,
        label: d.previousElementSibling.textContent, significant: d.dataset.significant })));
      result.buttons = await page.$$eval(".feedback li", (lis) => lis.map((l) => ({
        button: l.dataset.button, responses: Number(l.dataset.responses), text: l.textContent })));
      result.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    } else {
      result.kpis = await page.$$eval(".kpi.satisfaction", (ks) => ks.map((k) => ({
        facility: k.closest("section.facility").id, label: k.firstChild.textContent, value: k.querySelector("b").textContent })));
      result.headings = await page.$$eval(".feedback h3", (hs) => hs.map((h) => h.textContent));
      result.bars = await page.$$eval("svg.chart.feedback", (ss) => ss.map((s) => ({
        label: s.getAttribute("aria-label"),
        widths: [...s.querySelectorAll("rect")].map((r) => r.getBBox().width) })));
      result.rows = await page.$$eval(".feedback table tr", (trs) => trs.slice(1).map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    }
    result.errors = errors;
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
