// Opens the gateway's status page in Debian's Chromium through playwright-core and
// watches it: prints one JSON line with what it saw. test_status_page.py asserts.
//
//   node status_page.js URL SCREENSHOT [CHROMIUM]
"use strict";
const { chromium } = require("playwright-core");

const [url, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);

// The occupancies and the update count in one evaluation: an update landing between two
// separate reads would be counted before the change it made is seen as a change.
function snapshot(page) {
  return page.evaluate(() => ({
    occupancy: Object.fromEntries([...document.querySelectorAll(".facility")]
      .map((c) => [c.dataset.id, Number(c.querySelector(".occ-value").textContent)])),
    updates: Number(document.body.dataset.updates),
  }));
}

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  const result = {};
  try {
    // A phone's viewport: the page must read well there.
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    let navigations = 0;
    page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations++; });

    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(".facility");
    await page.waitForFunction(() => document.getElementById("live").classList.contains("on"), null, { timeout: 15000 });
    // A mark that a reload would wipe.
    await page.evaluate(() => { window.__mark = "still-here"; });
    const before = await snapshot(page);
    result.initial = before.occupancy;
    result.title = await page.title();
    result.labels = await page.$$eval("h2", (hs) => hs.map((h) => h.textContent));

    // Occupancy on the page changes as the simulator changes it.
    const initial = JSON.stringify(result.initial);
    await page.waitForFunction((init) => {
      const now = Object.fromEntries([...document.querySelectorAll(".facility")]
        .map((c) => [c.dataset.id, Number(c.querySelector(".occ-value").textContent)]));
      return JSON.stringify(now) !== init;
    }, initial, { timeout: 30000, polling: 100 });
    const after = await snapshot(page);
    result.changed = after.occupancy;
    result.updates = after.updates - before.updates;
    result.mark = await page.evaluate(() => window.__mark);
    result.navigations = navigations;
    result.uplink = await page.textContent("#uplink-state");
    result.buffer_depth = await page.textContent("#buffer-depth");
    result.connectors = await page.$$eval(".connectors li", (lis) => lis.map((l) => l.dataset.status));
    result.equipment = await page.$$eval(".equipment li", (lis) => lis.length);
    result.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
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
