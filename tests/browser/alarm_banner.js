// Opens the gateway's status page in Debian's Chromium (playwright-core), presses call
// buttons through the HTTP ingest driver and watches the alarm banner and its sound:
// prints one JSON line with what it saw and when. test_alarm_escalation.py asserts.
//
//   node alarm_banner.js URL INGEST_URL PRESSES_JSON SCREENSHOT [CHROMIUM]
//
// PRESSES_JSON: {"call": body, "second": body, "test": body}: HTTP ingest bodies of a
// real press (its sensor escalates first), a press of another sensor, a test press.
// Each body's "sensor" names the sensor the banner must show. INGEST_TOKEN in the
// environment: the ingest's bearer token.
"use strict";
const { chromium } = require("playwright-core");

const [url, ingestUrl, pressesJson, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const presses = JSON.parse(pressesJson);

async function post(body) {
  const headers = { "Content-Type": "application/json" };
  if (process.env.INGEST_TOKEN) headers.Authorization = "Bearer " + process.env.INGEST_TOKEN;
  const r = await fetch(ingestUrl, { method: "POST", headers, body: JSON.stringify(body) });
  if (r.status < 200 || r.status > 299) throw new Error("ingest answered " + r.status + ": " + (await r.text()));
}

// From the POST of a press to its alarm on the page (wall clock of this process).
async function pressAndWait(page, body, selector) {
  const t0 = Date.now();
  await post(body);
  await page.waitForSelector(selector, { timeout: 10000 });
  return Date.now() - t0;
}

function item(sensor) { return "#alarm-list li[data-id^='" + sensor + "-']"; }

(async () => {
  const browser = await chromium.launch({
    executablePath,
    // The sound starts without a tap here; a phone needs one (the page offers a button).
    args: ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
  });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.getElementById("live").classList.contains("on"), null, { timeout: 15000 });
    result.banner_hidden_before = await page.evaluate(() => document.getElementById("alarms").hidden);

    // A real call: on the page within the push, raised, then escalated with the beep.
    const call = presses.call.sensor;
    result.appear_ms = await pressAndWait(page, presses.call, item(call));
    result.banner = await page.evaluate(() => ({
      top: document.getElementById("alarms").getBoundingClientRect().top,
      header_bottom: document.querySelector("header").getBoundingClientRect().bottom,
      main_top: document.querySelector("main").getBoundingClientRect().top }));
    result.first = await page.$eval(item(call), (li) => ({ state: li.dataset.state, text: li.innerText,
      background: getComputedStyle(document.getElementById("alarms")).backgroundColor }));
    const t0 = Date.now();
    await page.waitForSelector(item(call) + "[data-state='escalated']", { timeout: 30000 });
    result.escalated_after_ms = Date.now() - t0;
    await page.waitForFunction(() => Number(document.body.dataset.beeps || 0) >= 2, null, { timeout: 10000 });
    result.sound_escalated = await page.evaluate(() => ({ sound: document.body.dataset.sound,
      audio: document.body.dataset.audio, beeps: Number(document.body.dataset.beeps) }));

    // Silenced: no more beeps for this escalation (watched over two beep periods).
    await page.click("#silence");
    const silencedAt = await page.evaluate(() => Number(document.body.dataset.beeps));
    await page.waitForTimeout(3200);
    result.silenced = await page.evaluate((n) => ({ sound: document.body.dataset.sound,
      beeps_since: Number(document.body.dataset.beeps) - n,
      button_hidden: document.getElementById("silence").hidden }), silencedAt);

    // A test press: grey, marked "test", listed after the real calls; no sound.
    const test = presses.test.sensor;
    result.test_appear_ms = await pressAndWait(page, presses.test, item(test));
    result.test_item = await page.$eval(item(test), (li) => ({ test: li.dataset.test, mark: li.querySelector(".test-mark") &&
      li.querySelector(".test-mark").textContent, background: getComputedStyle(li).backgroundColor }));

    // Another call escalates: the page sounds again.
    const second = presses.second.sensor;
    result.second_appear_ms = await pressAndWait(page, presses.second, item(second));
    await page.waitForSelector(item(second) + "[data-state='escalated']", { timeout: 30000 });
    await page.waitForFunction(() => document.body.dataset.sound === "on", null, { timeout: 5000 });
    result.rearmed = await page.evaluate(() => document.body.dataset.sound);
    result.order = await page.$$eval("#alarm-list li", (lis) => lis.map((l) => l.dataset.id));
    result.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: screenshot, fullPage: true });
    result.errors = errors;
  } catch (e) {
    result.failure = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
  process.exit(result.failure ? 1 : 0);
})();
