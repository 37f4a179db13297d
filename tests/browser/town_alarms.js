// Opens the town host's board in Debian's Chromium (playwright-core) on a phone's
// viewport and reports, as JSON lines on stdout, every alarm card that appears in or
// leaves the alarm banner, stamped by a MutationObserver inside the page with the wall
// clock (Date.now(), the same clock as the test's), so the test measures publish-to-
// shown latency. Commands arrive as JSON lines on stdin:
//   {"cmd":"login","user":U,"password":P}  log in through the page's form
//   {"cmd":"ack","id":ID}                    click that alarm's acknowledge button
//   {"cmd":"shot","path":FILE}               full-page screenshot
//   {"cmd":"quit"}
// test_town_alarms.py drives it.
//
//   node town_alarms.js URL [CHROMIUM]
"use strict";
const readline = require("readline");
const { chromium } = require("playwright-core");

const [url, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.getElementById("live").classList.contains("on"), null, { timeout: 15000 });
    await page.evaluate(() => {
      window.__events = [];
      const card = (c) => ({
        id: c.dataset.id, cls: c.className, test: c.dataset.test, escalated: c.dataset.escalated,
        kind: c.querySelector(".kind").textContent, what: c.querySelector(".what").textContent,
        when: c.querySelector(".when").textContent, presses: c.querySelector(".presses").textContent,
        esc: c.querySelector(".esc").textContent,
        // The banner leads the page: above the gateways and every facility.
        above_all: c.getBoundingClientRect().top < document.getElementById("summary").getBoundingClientRect().top,
      });
      for (const c of document.querySelectorAll("#alarms .alarm")) window.__events.push({ event: "seen", ms: Date.now(), card: card(c) });
      new MutationObserver((muts) => {
        const now = Date.now();
        for (const m of muts) {
          for (const n of m.addedNodes) if (n.classList && n.classList.contains("alarm")) {
            // Filled in the same task as it is inserted: read it after this task.
            window.__events.push({ event: "seen", ms: now, id: n.dataset.id });
          }
          for (const n of m.removedNodes) if (n.classList && n.classList.contains("alarm")) {
            if (!document.querySelector('#alarms .alarm[data-key="' + CSS.escape(n.dataset.key) + '"]'))
              window.__events.push({ event: "gone", ms: now, id: n.dataset.id });
          }
        }
      }).observe(document.getElementById("alarms"), { childList: true });
      window.__card = (id) => { const c = document.querySelector('#alarms .alarm[data-id="' + CSS.escape(id) + '"]'); return c ? card(c) : null; };
    });
    out({ event: "ready" });

    let quit = false;
    const rl = readline.createInterface({ input: process.stdin });
    const queue = [];
    rl.on("line", (l) => { if (l.trim()) queue.push(JSON.parse(l)); });
    rl.on("close", () => { quit = true; });
    while (!quit) {
      const evs = await page.evaluate(() => { const e = window.__events; window.__events = []; return e; });
      for (const e of evs) {
        if (e.event === "seen" && !e.card) e.card = await page.evaluate((id) => window.__card(id), e.id);
        out(e);
      }
      const c = queue.shift();
      if (c && c.cmd === "quit") break;
      if (c && c.cmd === "login") {
        await page.fill("#login-user", c.user);
        await page.fill("#login-pass", c.password);
        await page.click("#login-go");
        await page.waitForFunction((u) => document.getElementById("who").textContent.includes(u), c.user, { timeout: 15000 });
        out({ event: "logged_in", who: await page.textContent("#who") });
      } else if (c && c.cmd === "ack") {
        const sel = '#alarms .alarm[data-id="' + c.id + '"] button';
        await page.waitForFunction((s) => { const b = document.querySelector(s); return b && !b.disabled; }, sel, { timeout: 15000 });
        await page.click(sel);
        out({ event: "clicked", id: c.id });
      } else if (c && c.cmd === "shot") {
        await page.screenshot({ path: c.path, fullPage: true });
        out({ event: "shot", path: c.path });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    out({ event: "bye", errors });
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
