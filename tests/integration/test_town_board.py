"""The town board, served by the real community-host, in real Chromium (Debian's
chromium through playwright-core, tests/browser), fed by two Sparkplug edge nodes
played by the test over a real mosquitto into a real PostgreSQL.

What the page must show, read from its DOM: every facility under its type's heading,
with the occupancy and capacity, open or closed, today's visits and meals and the
charging connectors the edge nodes published; a historical value newer than the live
one is not shown as live; the gateways online with how long since heard. Then, without
a reload, a change arriving by server-sent events: the canteen's new occupancy, and the
second gateway's NDEATH turning it and its facility offline. The canteen's feedback
terminal: today's index with its response count, first not significant (fewer responses
than the minimum its birth states), then an index computed in the test from per-button
counts (docs/report-format.md) arriving live. Both screenshots are then read pixel by
pixel where the page says its elements are: each occupancy bar filled to occupancy /
capacity as published, each state badge and gateway in its state's colour, an offline
card faded. They are kept in <build>/test-artifacts/.
"""

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest

from helpers import wait_until
from screenshot_pixels import Screenshot, blend, rgb
from sparkplug_edge import BOOLEAN, FLOAT, STRING, UINT32, UINT64, Edge

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
BOARD_HTML = os.path.join(HERE, "..", "..", "host", "assets", "board.html")
GROUP = "huacao"


def palette():
    """The light scheme's colours (the first :root of the board's stylesheet), by name."""
    with open(BOARD_HTML, encoding="utf-8") as f:
        root = re.search(r":root \{([^}]*)\}", f.read()).group(1)
    return {k: rgb(v) for k, v in re.findall(r"--([a-z]+):(#[0-9a-f]{6})", root)}


def check_screenshot(path, geometry, bars, badges, gateways, offline_facilities):
    """What the screenshot shows, read from its pixels: each facility's bar filled to
    occupancy / capacity (bars: id -> (occupancy, capacity), as published), each state
    badge and each gateway drawn in its state's colour. A card of an offline facility is
    drawn at opacity .7 over the page, so its colours are expected blended."""
    colours = palette()
    shot = Screenshot(path, geometry)
    seen = {}
    for fid, (occupancy, capacity) in bars.items():
        ratio = min(1.0, occupancy / capacity)
        colour = colours["bad"] if ratio >= 0.95 else colours["bar"]
        if fid in offline_facilities:
            colour = blend(colour, colours["bg"], 0.7)
        filled, width = shot.bar_fill(geometry["facilities"][fid]["bar"], colour)
        seen[fid] = round(filled, 3)
        # Two device pixels of antialiasing at the fill's end.
        assert abs(filled - ratio) <= 2.0 / width, (fid, filled, ratio, path)
    for fid, state in badges.items():
        box = geometry["facilities"][fid]["badge"]
        under = (lambda c: blend(c, colours["bg"], 0.7)) if fid in offline_facilities else (lambda c: c)
        drawn = {s: shot.count(box, under(colours[s])) for s in ("ok", "muted", "bad")}
        # The badge's border and text in its colour, and none of the others'.
        assert drawn[state] > 100 and all(n < 10 for s, n in drawn.items() if s != state), (fid, drawn, path)
    for gw, state in gateways.items():
        drawn = {s: shot.count(geometry["gateways"][gw], colours[s]) for s in ("ok", "bad")}
        assert drawn[state] > 100 and all(n < 10 for s, n in drawn.items() if s != state), (gw, drawn, path)
    return seen


def birth(ftype, name, capacity, occupancy, open_, extra, ts):
    return [{"name": "facility/type", "datatype": STRING, "value": ftype, "ts": ts},
            {"name": "facility/name", "datatype": STRING, "value": name, "ts": ts},
            {"name": "occupancy/capacity", "datatype": UINT32, "value": capacity, "ts": ts},
            {"name": "occupancy/current", "datatype": UINT32, "value": occupancy, "ts": ts},
            {"name": "status/open", "datatype": BOOLEAN, "value": open_, "ts": ts}] + extra


# The default four buttons and their scores (docs/report-format.md).
SCORES = {"very_unhappy": 1, "unhappy": 2, "happy": 3, "very_happy": 4}


def satisfaction_index(counts):
    n = sum(counts.values())
    mean = sum(SCORES[b] * c for b, c in counts.items()) / n
    return 100.0 * (mean - min(SCORES.values())) / (max(SCORES.values()) - min(SCORES.values()))


def test_town_board_in_chromium(tmp_path, broker, make_postgres, make_host):
    import shutil
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)
    pg = make_postgres()
    host = make_host(broker, pg, [GROUP])
    host.wait_log(r"STATE online published", 30)
    host.wait_log(r"board: http://127\.0\.0\.1:%d/" % host.board_port, 10)

    now = int(time.time() * 1000)
    a, b = Edge(broker, GROUP, "gw-a"), Edge(broker, GROUP, "gw-b")
    a.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 1}])
    a.publish("DBIRTH", 1, birth("canteen", "华漕长者食堂 Huacao canteen", 60, 12, True,
                                 [{"name": "visits/entries", "datatype": UINT64, "value": 41, "ts": now},
                                  {"name": "meals/served", "datatype": UINT32, "value": 23, "ts": now},
                                  {"name": "feedback/min_responses", "datatype": UINT32, "value": 20, "ts": now},
                                  {"name": "feedback/responses", "datatype": UINT32, "value": 5, "ts": now},
                                  {"name": "feedback/index", "datatype": FLOAT, "value": -1.0, "ts": now}]
                                 + [{"name": "feedback/%s/responses" % btn, "datatype": UINT32, "value": c, "ts": now}
                                    for btn, c in {"very_unhappy": 1, "unhappy": 1, "happy": 2, "very_happy": 1}.items()],
                                 now),
              device="canteen-1")
    a.publish("DBIRTH", 2, birth("charging_station", "华漕充电站 P3", 4, 1, True,
                                 [{"name": "connectors/1/status", "datatype": STRING, "value": "Charging", "ts": now},
                                  {"name": "connectors/2/status", "datatype": STRING, "value": "Available",
                                   "ts": now}], now),
              device="charging-1")
    b.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 7}])
    b.publish("DBIRTH", 1, birth("fitness_point", "健身点 Riverside", 30, 5, False,
                                 [{"name": "visits/entries", "datatype": UINT64, "value": 9, "ts": now}], now),
              device="fitness-1")
    # A value the gateway buffered and sent late, stamped after the live one: stored,
    # never the live value.
    b.publish("DDATA", 2, [{"name": "occupancy/current", "type": UINT32, "value": 99, "ts": now + 1000,
                            "historical": True}], device="fitness-1")
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM samples WHERE device = 'fitness-1' AND historical")
                      == 1, 20)

    # The board's JSON first (it refreshes every 500 ms): all three facilities.
    def snapshot():
        try:
            return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/api/board" % host.board_port,
                                                     timeout=10).read())
        except OSError:  # 503 until the first snapshot
            return {"facilities": []}
    assert wait_until(lambda: len(snapshot()["facilities"]) == 3, 20), snapshot()
    facs = {f["id"]: f for f in snapshot()["facilities"]}
    assert facs["fitness-1"]["occupancy"] == 5

    # The live change to come: 24 responses today, above the minimum of 20.
    counts = {"very_unhappy": 2, "unhappy": 3, "happy": 9, "very_happy": 10}
    want_index = satisfaction_index(counts)
    want_satisfaction = "%.1f (n = %d)" % (want_index, sum(counts.values()))

    artifacts = os.path.join(os.environ.get("GATEWAY_BINARY_DIR", str(tmp_path)), "test-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    before_png = os.path.join(artifacts, "town_board_before.png")
    after_png = os.path.join(artifacts, "town_board_after.png")
    proc = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "town_board.js"),
                             "http://127.0.0.1:%d/" % host.board_port, before_png, after_png, "17", "gw-b",
                             want_satisfaction, shutil.which("chromium")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=BROWSER_DIR)
    try:
        line = proc.stdout.readline()
        assert line, "browser script ended early: %s" % proc.stderr.read()
        before = json.loads(line)
        assert before["phase"] == "before"
        print("board before:", before)

        # What the page shows, by type.
        assert before["title"].startswith("镇级看板")
        assert [(s["type"], s["facilities"]) for s in before["sections"]] == [
            ("canteen", ["canteen-1"]), ("charging_station", ["charging-1"]), ("fitness_point", ["fitness-1"])]
        assert "长者食堂" in before["sections"][0]["heading"]
        f = before["facilities"]
        assert f["canteen-1"]["name"] == "华漕长者食堂 Huacao canteen"
        assert (f["canteen-1"]["occupancy"], f["canteen-1"]["capacity"]) == ("12", "60")
        assert f["canteen-1"]["state"] == "开放 Open" and f["fitness-1"]["state"] == "关闭 Closed"
        assert f["canteen-1"]["visits"] == "41" and f["canteen-1"]["meals"] == "23"
        assert f["fitness-1"]["visits"] == "9" and f["fitness-1"].get("meals") is None
        # 5 responses against the minimum of 20: no index, only the count.
        assert f["canteen-1"]["satisfaction"] == "不显著 not significant (n = 5 < 20)", f["canteen-1"]
        assert f["fitness-1"].get("satisfaction") is None and f["charging-1"].get("satisfaction") is None
        assert f["fitness-1"]["occupancy"] == "5", "a historical value shown as live"
        assert [c[0] for c in f["charging-1"]["connectors"]] == ["Charging", "Available"]
        assert "充电中" in f["charging-1"]["connectors"][0][1]
        gws = {g[0]: g for g in before["gateways"]}
        assert set(gws) == {"gw-a", "gw-b"} and all(g[1] == "true" for g in gws.values())
        assert all("秒前 s ago" in g[2] or "分钟前" in g[2] for g in gws.values()), gws
        assert before["scroll_width"] <= 390, "the board scrolls sideways on a phone"
        assert not before["errors"], before["errors"]
        # The screenshot itself: the fitness point's bar at 5 of 30, not at the
        # historical 99 (full and red); open in green, closed in grey.
        print("bars filled before:", check_screenshot(
            before_png, before["geometry"], bars={"canteen-1": (12, 60), "charging-1": (1, 4), "fitness-1": (5, 30)},
            badges={"canteen-1": "ok", "charging-1": "ok", "fitness-1": "muted"},
            gateways={"gw-a": "ok", "gw-b": "ok"}, offline_facilities=()))

        # Live changes, through server-sent events.
        t = int(time.time() * 1000)
        a.publish("DDATA", 3, [{"name": "occupancy/current", "type": UINT32, "value": 17, "ts": t},
                               {"name": "feedback/responses", "type": UINT32, "value": sum(counts.values()), "ts": t},
                               {"name": "feedback/index", "type": FLOAT, "value": want_index, "ts": t}]
                  + [{"name": "feedback/%s/responses" % b, "type": UINT32, "value": c, "ts": t}
                     for b, c in counts.items()], device="canteen-1")
        b.publish("NDEATH", None, [{"name": "bdSeq", "datatype": UINT64, "value": 7}])
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "browser script failed:\n%s\n%s" % (out, err)
    after = json.loads(out.strip().splitlines()[-1])
    print("board after:", after)
    assert after["phase"] == "after"
    assert after["mark"] == "still-here" and after["navigations"] == 1, "the page was reloaded"
    assert after["updates"] > before["updates"]
    f = after["facilities"]
    assert f["canteen-1"]["occupancy"] == "17"
    assert f["canteen-1"]["satisfaction"] == want_satisfaction, f["canteen-1"]
    assert f["fitness-1"]["state"] == "离线 Offline" and f["canteen-1"]["state"] == "开放 Open"
    gws = {g[0]: g for g in after["gateways"]}
    assert gws["gw-b"][1] == "false" and "离线 offline" in gws["gw-b"][2]
    assert gws["gw-a"][1] == "true"
    assert not after["errors"], after["errors"]
    # The screenshot after: the canteen's bar at 17 of 60, the second gateway and its
    # facility in red, that card faded.
    print("bars filled after:", check_screenshot(
        after_png, after["geometry"], bars={"canteen-1": (17, 60), "charging-1": (1, 4), "fitness-1": (5, 30)},
        badges={"canteen-1": "ok", "charging-1": "ok", "fitness-1": "bad"},
        gateways={"gw-a": "ok", "gw-b": "bad"}, offline_facilities=("fitness-1",)))
    a.stop()
    b.stop()
