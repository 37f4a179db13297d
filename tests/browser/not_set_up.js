// Opens the status page of a gateway that is not set up (the installed config) in
// Debian's Chromium and prints, as one JSON line, the warnings the page lists.
// test_status_page.py asserts.
//
//   node not_set_up.js URL [CHROMIUM]
"use strict";
const { chromium } = require("playwright-core");

const [url, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.querySelectorAll("#errors li").length > 0, null, { timeout: 15000 });
    result.items = await page.$$eval("#errors li", (lis) => lis.map((l) => l.textContent));
    result.facilities = await page.$$eval(".facility", (cs) => cs.length);
    result.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
