// Opens the town host's board in Debian's Chromium through playwright-core, on a phone's
// viewport. Prints one JSON line of what the page shows (phase "before"), then waits
// until the page shows, without a reload, what the test then publishes (canteen-1 at
// occupancy WANT and its satisfaction WANT_SATISFACTION, gateway OFFLINE_GW offline),
// and prints a second line ("after"). Each line carries where the checked elements are
// in its screenshot ("geometry"), for the test to read the pixels there.
// test_town_board.py asserts on both.
//
//   node town_board.js URL SCREENSHOT_BEFORE SCREENSHOT_AFTER WANT OFFLINE_GW WANT_SATISFACTION [CHROMIUM]
"use strict";
const { chromium } = require("playwright-core");

const [url, shotBefore, shotAfter, want, offlineGw, wantSatisfaction, executablePath = "/usr/bin/chromium"] =
  process.argv.slice(2);

// Everything the test checks, read from the DOM in one evaluation.
function seen(page) {
  return page.evaluate(() => ({
    title: document.title,
    live: document.getElementById("live").classList.contains("on"),
    updates: Number(document.body.dataset.updates),
    sections: [...document.querySelectorAll("section.type")].map((s) => ({
      type: s.dataset.type,
      heading: s.querySelector("h2").textContent,
      facilities: [...s.querySelectorAll(".facility")].map((c) => c.dataset.id),
    })),
    facilities: Object.fromEntries([...document.querySelectorAll(".facility")].map((c) => [c.dataset.id, {
      name: c.querySelector("h2").textContent,
      state: c.querySelector(".badge.state").textContent,
      occupancy: c.querySelector(".occ-value").textContent,
      capacity: c.querySelector(".cap").textContent,
      visits: (c.querySelector("dd.visits") || {}).textContent,
      meals: (c.querySelector("dd.meals") || {}).textContent,
      checkins: (c.querySelector("dd.checkins") || {}).textContent,
      satisfaction: (c.querySelector("dd.satisfaction") || {}).textContent,
      connectors: [...c.querySelectorAll(".connectors li")].map((l) => [l.dataset.status, l.textContent]),
    }])),
    gateways: [...document.querySelectorAll("#gateways li")].map((l) => [l.dataset.id, l.dataset.online, l.textContent]),
    scroll_width: document.documentElement.scrollWidth,
  }));
}

// Where each checked element is in a full-page screenshot (CSS pixels of the document),
// so that the test can read the screenshot itself: the occupancy bars, the state
// badges and the gateways' colours.
function geometry(page) {
  return page.evaluate(() => {
    const box = (e) => {
      if (!e) return null;
      const r = e.getBoundingClientRect();
      return { x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height };
    };
    return {
      dpr: window.devicePixelRatio,
      facilities: Object.fromEntries([...document.querySelectorAll(".facility")].map((c) => [c.dataset.id, {
        bar: box(c.querySelector(".bar")), badge: box(c.querySelector(".badge.state")),
      }])),
      gateways: Object.fromEntries([...document.querySelectorAll("#gateways li")].map((l) => [l.dataset.id, box(l)])),
    };
  });
}

// The bars' width transition is finished, not caught half way, before each screenshot.
async function shoot(page, path) {
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  return geometry(page);
}

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    let navigations = 0;
    page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations++; });

    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(".facility");
    await page.waitForFunction(() => document.getElementById("live").classList.contains("on"), null, { timeout: 15000 });
    await page.evaluate(() => { window.__mark = "still-here"; });
    const shotBeforeAt = await shoot(page, shotBefore);
    console.log(JSON.stringify({ phase: "before", ...(await seen(page)), geometry: shotBeforeAt, errors }));

    await page.waitForFunction(([w, gw, ws]) => {
      const c = document.querySelector('.facility[data-id="canteen-1"] .occ-value');
      const s = document.querySelector('.facility[data-id="canteen-1"] dd.satisfaction');
      const g = document.querySelector('#gateways li[data-id="' + gw + '"]');
      return c && c.textContent === w && s && s.textContent === ws && g && g.dataset.online === "false";
    }, [want, offlineGw, wantSatisfaction], { timeout: 30000, polling: 100 });
    const shotAfterAt = await shoot(page, shotAfter);
    const after = await seen(page);
    after.geometry = shotAfterAt;
    after.mark = await page.evaluate(() => window.__mark);
    after.navigations = navigations;
    console.log(JSON.stringify({ phase: "after", ...after, errors }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
