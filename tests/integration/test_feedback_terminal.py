"""Feedback terminals (residents' satisfaction) end to end, with real peers.

Modbus: a real Modbus TCP server holds one 16-bit counter per button; one wraps at
65536, one is reset (the device rebooted), the others count on. The facility's
feedback/{button}/responses, share and index on the wire, the status page (its JSON and,
in real Chromium, the page), and the `report` command's HTML in Chromium all show the
figures computed here from the definitions (docs/report-format.md, "Residents'
satisfaction"), with the response count. MQTT: one press event per message, stamped by
the terminal, with repeats within repeat_interval_s (also a late one) that count once;
a day below feedback_min_responses has index -1 on the wire until the answer that
makes it significant.
"""

import datetime
import json
import os
import shutil
import subprocess
import time
import zoneinfo

import pytest

from gateway import run_cli
from helpers import FLOAT, UINT32, base_config, free_port
from modbus_peer import ModbusPeer
from sparkplug import latest, readings, value_is
from test_mqtt_subscriber import mosquitto_pub
from web import get, web_port, web_section

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
BUTTONS = [("very_unhappy", 1), ("unhappy", 2), ("happy", 3), ("very_happy", 4)]


def expected(counts, min_responses):
    """The definitions: responses, shares, index (None when not significant)."""
    n = sum(counts.values())
    shares = {b: (counts.get(b, 0) / n if n else 0.0) for b, _ in BUTTONS}
    if n == 0 or n < min_responses:
        return n, shares, None
    scores = [s for _, s in BUTTONS]
    mean = sum(counts.get(b, 0) * s for b, s in BUTTONS) / n
    return n, shares, 100.0 * (mean - min(scores)) / (max(scores) - min(scores))


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")


def browser(*args):
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "feedback.js")] + list(args) + [chromium()],
                       capture_output=True, text=True, timeout=120, cwd=BROWSER_DIR)
    assert p.returncode == 0, "browser script failed:\n%s\n%s" % (p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def artifact(tmp_path, name):
    d = os.path.join(os.environ.get("GATEWAY_BINARY_DIR", str(tmp_path)), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def wait_counts(sub, device, counts, timeout, what):
    n = sum(counts.values())
    sub.wait_for(value_is(device, "feedback/responses", n), timeout, what)
    for b, _ in BUTTONS:
        sub.wait_for(value_is(device, "feedback/%s/responses" % b, counts.get(b, 0)), 5, "%s: %s" % (what, b))


def check_figures(msgs, device, counts, min_responses):
    n, shares, index = expected(counts, min_responses)
    m = latest(msgs, device, "feedback/responses")
    assert m["value"] == n and m["datatype"] == UINT32
    for b, _ in BUTTONS:
        s = latest(msgs, device, "feedback/%s/share" % b)
        assert s["datatype"] == FLOAT and abs(s["value"] - shares[b]) < 1e-6, (b, s, shares[b])
    i = latest(msgs, device, "feedback/index")
    assert i["datatype"] == FLOAT
    if index is None:
        assert i["value"] == -1.0, i
    else:
        assert abs(i["value"] - index) < 1e-4, (i, index)
    return n, index


def test_modbus_counters_status_page_and_report(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    peer = ModbusPeer("tcp", port, log_path=str(tmp_path / "peer.log"))
    min_responses = 5
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "华漕长者食堂 Huacao canteen", "capacity": 60,
                   "feedback_min_responses": min_responses,
                   "sensors": [{"id": "smiley-1", "kind": "feedback_terminal", "driver": "modbus",
                                # Every press counts: polls are 200 ms apart, and the test
                                # must not depend on which poll sees a change. The repeat
                                # bound of counters is in the unit tests.
                                "repeat_interval_s": 0}]}]
    cfg = base_config("huacao", "gw-feedback", tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["web"] = web_section()
    cfg["drivers"] = {"modbus": {"devices": [{
        "id": "smiley-plc", "facility": "canteen-1", "sensor": "smiley-1", "host": "127.0.0.1", "port": port,
        "poll_interval_ms": 200, "timeout_ms": 300, "retries": 2, "backoff_max_ms": 800,
        "registers": [{"point": "button/%s_total" % b, "table": "holding", "address": i, "type": "uint16"}
                      for i, (b, _) in enumerate(BUTTONS)]}]}}
    try:
        peer.start()
        start = [10, 65533, 500, 7]  # unhappy near the 16-bit top; happy will be reset
        peer.set("hr", 0, start)
        sub = make_subscriber(broker)
        gw = make_gateway(cfg, [broker.uri])
        for (b, _), v in zip(BUTTONS, start):
            sub.wait_for(value_is("canteen-1", "sensors/smiley-1/button/%s_total" % b, v), 30, "baseline " + b)
        # very_unhappy +1; unhappy 65533 -> 2 wraps: 65536 - 65533 + 2 = 5; happy 500 -> 3
        # is a reset, counted from 0: 3; very_happy +2.
        peer.set("hr", 0, [11, 2, 3, 9])
        counts = {"very_unhappy": 1, "unhappy": 65536 - 65533 + 2, "happy": 3, "very_happy": 2}
        wait_counts(sub, "canteen-1", counts, 15, "after the wrap and the reset")
        n, index = check_figures(sub.snapshot(), "canteen-1", counts, min_responses)
        assert index is not None

        # Then the counters go on counting: very_happy 9 -> 12.
        peer.set("hr", 3, [12])
        counts["very_happy"] += 3
        wait_counts(sub, "canteen-1", counts, 15, "very_happy +3")
        n, index = check_figures(sub.snapshot(), "canteen-1", counts, min_responses)

        # The status page's JSON and the page in Chromium.
        wport = web_port(gw)
        status, _, body = get(wport, "/api/status")
        assert status == 200
        fb = json.loads(body)["facilities"][0]["feedback"]
        assert fb["responses"] == n and fb["significant"] is True and abs(fb["index"] - index) < 1e-6
        assert [b["responses"] for b in fb["buttons"]] == [counts[b] for b, _ in BUTTONS]
        page = browser("status", "http://127.0.0.1:%d/" % wport, artifact(tmp_path, "feedback_status.png"), str(n))
        assert page["errors"] == []
        sat = page["satisfaction"][0]
        assert sat["facility"] == "canteen-1" and "满意度" in sat["label"]
        assert sat["text"] == "%.1f (n = %d)" % (index, n), sat
        assert [(b["button"], b["responses"]) for b in page["buttons"]] == [(b, counts[b]) for b, _ in BUTTONS]
        assert page["scroll_width"] <= 390

        # The report of today (the facility's local day), in HTML, in Chromium.
        today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
        out = str(tmp_path / "report.html")
        rc, _, err = run_cli(["report", "--config", gw.config_path, "--from", today, "--to", today,
                              "--format", "html", "--out", out], timeout=60)
        assert rc == 0, err
        rep = browser("report", "file://" + out, artifact(tmp_path, "feedback_report.png"))
        assert rep["errors"] == []
        kpi = rep["kpis"][0]
        assert kpi["facility"] == "facility-canteen-1"
        assert kpi["value"] == "%.1f (n = %d)" % (index, n), kpi
        bars = rep["bars"][0]
        assert bars["label"] == "share per button, n = %d" % n
        _, shares, _ = expected(counts, min_responses)
        widest = max(bars["widths"])
        # Bar lengths are proportional to the shares.
        for w, (b, _) in zip(bars["widths"], BUTTONS):
            assert abs(w / widest - shares[b] / max(shares.values())) < 0.01, (b, bars)
        day_row = rep["rows"][0]
        assert day_row[0] == today and day_row[1] == str(n) and day_row[4] == "%.1f (n = %d)" % (index, n)
        assert gw.terminate(timeout=30) == 0
    finally:
        peer.stop()


def test_mqtt_press_events_with_repeats(tmp_path, broker, make_broker, make_subscriber, make_gateway):
    local = make_broker(name="local")
    min_responses = 5
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 60,
                   "feedback_min_responses": min_responses,
                   "sensors": [{"id": "smiley-1", "kind": "feedback_terminal", "driver": "mqtt"},
                               {"id": "tablet-1", "kind": "feedback_terminal", "driver": "mqtt"}]}]
    cfg = base_config("huacao", "gw-feedback-mqtt", tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["web"] = web_section()
    cfg["drivers"] = {"mqtt": {
        "broker": local.uri, "client_id": "gw-feedback-south",
        "subscriptions": [{"topic": "terminals/+/press", "facility": "canteen-1", "sensor_level": 1,
                           "timestamp_pointer": "/ts", "points": [{"point": "press", "pointer": "/button"}]}]}}
    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"mqtt: subscribed to 1 of 1 filters", 15)
    gw.wait_log(r"uplink: NBIRTH", 15)

    def press(sensor, button, ts):
        mosquitto_pub(local, "terminals/%s/press" % sensor, json.dumps({"button": button, "ts": ts}))

    # Stamped by the terminals, a minute ago; the default repeat interval is 5 s. A
    # terminal keeps to one type for its press point (a metric's type is fixed on the
    # wire): smiley-1 sends button names, tablet-1 posts scores.
    t0 = (int(time.time() * 1000) // 1000) * 1000 - 60000
    presses = [("smiley-1", "happy", t0), ("smiley-1", "very_happy", t0 + 2000),
               ("smiley-1", "very_happy", t0 + 6000), ("smiley-1", "happy", t0 + 7000),
               ("tablet-1", 1, t0 + 3000),  # the score 1: very_unhappy; another terminal, another person
               ("smiley-1", "unhappy", t0 + 30000)]
    for sensor, b, ts in presses:
        press(sensor, b, ts)
    # The definition, applied here: a press counts unless it is within 5 s of a counted
    # press of the same terminal.
    counted = []
    for sensor, b, ts in presses:
        if all(abs(ts - c) >= 5000 for s, _, c in counted if s == sensor):
            counted.append((sensor, b, ts))
    name = {s: b for b, s in BUTTONS}
    counts = {}
    for _, b, _ in counted:
        b = name.get(b, b)
        counts[b] = counts.get(b, 0) + 1
    assert sum(counts.values()) == 4 < min_responses
    wait_counts(sub, "canteen-1", counts, 15, "four presses counted of six")
    assert counts == {"happy": 1, "very_happy": 1, "very_unhappy": 1, "unhappy": 1}
    # A late press, 3 s before the counted one at t0: judged by its own time against the
    # presses counted, a repeat. It is on the wire as a raw reading, and counts nothing.
    press("smiley-1", "unhappy", t0 - 3000)
    sub.wait_for(lambda msgs: any(m["timestamp"] == t0 - 3000 for m in
                                  readings(msgs).get(("canteen-1", "sensors/smiley-1/press"), [])),
                 15, "the late press on the wire")
    assert latest(sub.snapshot(), "canteen-1", "feedback/responses")["value"] == 4
    # The status page gives the count, never a number that stands on too few answers.
    status, _, body = get(web_port(gw), "/api/status")
    assert status == 200
    fb = json.loads(body)["facilities"][0]["feedback"]
    assert fb["responses"] == 4 and fb["significant"] is False and fb["index"] is None
    assert fb["min_responses"] == min_responses
    check_figures(sub.snapshot(), "canteen-1", counts, min_responses)  # index -1: not significant
    assert latest(sub.snapshot(), "canteen-1", "feedback/index")["value"] == -1.0

    # The fifth answer makes the day significant.
    press("smiley-1", "very_happy", t0 + 40000)
    counts["very_happy"] = counts.get("very_happy", 0) + 1
    wait_counts(sub, "canteen-1", counts, 15, "the fifth answer")
    n, index = check_figures(sub.snapshot(), "canteen-1", counts, min_responses)
    assert n == min_responses and index is not None
    m = latest(sub.snapshot(), "canteen-1", "feedback/index")
    assert m["timestamp"] == t0 + 40000  # event time
    assert gw.terminate(timeout=30) == 0
