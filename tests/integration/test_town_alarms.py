"""Emergency calls at the town host (issue 15), against the documented wire format
(docs/wire-format.md "Alarms: emergency calls"): a Sparkplug edge node played by the
test publishes births and alarm DDATA over a real mosquitto to the real community-host
on a real PostgreSQL; the town board is read as JSON and in real Chromium.

What must hold: every alarms/events row (births too) is merged into `alarms` and only
moves forward (a late, stale re-announcement does not reopen an acknowledged alarm;
presses only grow; the first escalation and acknowledgement stay); malformed rows are
counted and never stored; an open alarm is at the top of the board in Chromium within
1 s of its DDATA (the figure goes to bench/RESULTS.md); acknowledging needs a login
(401) and the session's CSRF token (403); the page's button makes the host publish the
DCMD alarms/acknowledge + alarms/acknowledged_by (decoded here), sent again when the
gateway re-announces the alarm, not sooner than 10 s; the gateway's acknowledged row
completes it and the board drops the alarm; the town report's alarm figures equal
those computed here from the rows the test published.
"""

import csv
import datetime
import http.cookies
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zoneinfo

import pytest

from helpers import wait_until
from sparkplug_b_pb2 import Payload
from sparkplug_edge import DATASET, STRING, UINT32, UINT64, Edge, alarm_events, alarm_metrics

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
GROUP = "huacao"
BOARD_REFRESH_MS = 60000
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")  # host.timezone's default, the gateways' default zone
RANK = {"raised": 0, "escalated": 1, "acknowledged": 2}


def now_ms():
    return int(time.time() * 1000)


def local_text(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y-%m-%d %H:%M:%S")


def local_ms(day, hh, mm, ss=0):
    return int(datetime.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=TZ).timestamp() * 1000)


class Published:
    """What the test published, merged by the documented rule (an alarm only moves
    forward), so that expected figures come from the rows themselves."""

    def __init__(self):
        self.alarms = {}

    def add(self, facility, row):
        key = (facility, row["id"])
        full = dict({"location": "", "kind": "call", "test": False, "state": "raised", "presses": 1,
                     "escalated_ms": -1, "acknowledged_ms": -1, "acknowledged_by": ""}, **row)
        old = self.alarms.get(key)
        if old is None:
            self.alarms[key] = full
            return
        old["state"] = max(old["state"], full["state"], key=RANK.get)
        old["presses"] = max(old["presses"], full["presses"])
        if old["escalated_ms"] < 0:
            old["escalated_ms"] = full["escalated_ms"]
        if old["acknowledged_ms"] < 0:
            old["acknowledged_ms"] = full["acknowledged_ms"]
            old["acknowledged_by"] = full["acknowledged_by"]


def expected_figures(rows):
    calls = [r for r in rows if not r["test"]]
    acked = sorted(r["acknowledged_ms"] - r["raised_ms"] for r in calls if r["state"] == "acknowledged")
    n = len(acked)
    # report-format.md: the median in whole milliseconds, a half millisecond rounded up.
    median_ms = (acked[n // 2] if n % 2 else (acked[n // 2 - 1] + acked[n // 2] + 1) // 2) if acked else None
    return {"alarms": len(calls), "test_presses": sum(1 for r in rows if r["test"]),
            "presses_folded": sum(r["presses"] - 1 for r in calls), "acknowledged": n,
            "ack_median_s": median_ms / 1000 if acked else None,
            "ack_worst_s": acked[-1] / 1000 if acked else None,
            "open": sum(1 for r in calls if r["state"] != "acknowledged")}


class Board:
    """HTTP to the board, with a session cookie when logged in."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.cookie = None

    def call(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def snapshot(self):
        st, _, text = self.call("GET", "/api/board")
        return json.loads(text) if st == 200 else {"alarms": [], "facilities": []}

    def open_alarm(self, alarm_id):
        return next((a for a in self.snapshot()["alarms"] if a["id"] == alarm_id), None)


class Browser:
    """tests/browser/town_alarms.js: reads its JSON lines on a thread."""

    def __init__(self, url):
        self.proc = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "town_alarms.js"), url,
                                      shutil.which("chromium")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=BROWSER_DIR)
        self.events = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append(json.loads(line))

    def find(self, event, **match):
        with self.lock:
            for e in self.events:
                if e["event"] == event and all(e.get(k) == v or (e.get("card") or {}).get(k) == v
                                               for k, v in match.items()):
                    return e
        return None

    def wait(self, event, timeout=20, **match):
        e = wait_until(lambda: self.find(event, **match), timeout, interval=0.01)
        assert e, "browser never reported %s %s; stderr: %s; events: %s" % (
            event, match, self.stderr_if_dead(), self.events[-10:])
        return e

    def stderr_if_dead(self):
        return self.proc.stderr.read() if self.proc.poll() is not None else "(running)"

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def hash_line(name, password):
    r = subprocess.run([os.environ["HOST_BIN"], "hash-password", name], input=password + "\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def facility_birth(ftype, name, ts, alarms_rows=()):
    return [{"name": "facility/type", "datatype": STRING, "value": ftype, "ts": ts},
            {"name": "facility/name", "datatype": STRING, "value": name, "ts": ts},
            {"name": "occupancy/capacity", "datatype": UINT32, "value": 40, "ts": ts},
            {"name": "occupancy/current", "datatype": UINT32, "value": 3, "ts": ts},
            {"name": "alarms/open", "datatype": UINT32, "value": len(alarms_rows), "ts": ts},
            {"name": "alarms/events", "datatype": DATASET, "value": alarm_events(list(alarms_rows)), "ts": ts}]


def test_town_alarms(tmp_path, broker, make_postgres, make_host):
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)

    # --- operators: community-host hash-password --------------------------------
    password, other_password = "Zhang-2026!call", "li-secret-77"
    line = hash_line("zhang.wei", password)
    m = re.fullmatch(r"zhang\.wei:\$pbkdf2-sha256\$(\d+)\$([0-9a-f]{32})\$([0-9a-f]{64})", line)
    assert m, line
    assert int(m.group(1)) >= 200000
    again = hash_line("zhang.wei", password)
    assert again != line, "the salt is not random"
    assert password not in line
    users = tmp_path / "operators"
    users.write_text("# board operators\n" + line + "\n" + hash_line("li.na", other_password) + "\n")

    pg = make_postgres()
    # The board's periodic read only every minute: an alarm on the page within seconds
    # came by the commit's NOTIFY, at once.
    host = make_host(broker, pg, [GROUP], board_keys={"users_file": str(users), "refresh_ms": BOARD_REFRESH_MS})
    host.wait_log(r"STATE online published", 30)
    host.wait_log(r"board: 2 operators may acknowledge alarms", 10)
    board = Board(host.board_port)
    published = Published()

    # --- births carry the open alarms ------------------------------------------
    t = now_ms()
    edge = Edge(broker, GROUP, "gw-a")
    test_row = {"id": "cord-9-%d" % (t - 300000), "sensor": "cord-9", "location": "卫生间 Toilet 2", "test": True,
                "raised_ms": t - 300000}
    edge.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 1}])
    edge.publish("DBIRTH", 1, facility_birth("elderly_station", "华漕养老驿站 Huacao day care", t, [test_row]),
                 device="station-1")
    edge.publish("DBIRTH", 2, facility_birth("canteen", "华漕长者食堂 Huacao canteen", t), device="canteen-1")
    published.add("station-1", test_row)
    seq = [2]

    def ddata(device, metrics):
        seq[0] = (seq[0] + 1) % 256
        return edge.publish("DDATA", seq[0], metrics, device=device)

    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM alarms") == 1, 20)
    row = pg.psql("SELECT facility, sensor, location, kind, test, state, presses,"
                  " (extract(epoch FROM raised_at) * 1000)::bigint FROM alarms").strip()
    assert row == "station-1|cord-9|卫生间 Toilet 2|call|t|raised|1|%d" % test_row["raised_ms"], row

    # --- malformed rows: counted, never stored ------------------------------------
    cols, types, rows = alarm_events([{"id": "bad-1", "sensor": "cord-1", "raised_ms": t}])
    missing = (cols[:5] + cols[6:], types[:5] + types[6:], [r[:5] + r[6:] for r in rows])  # no "state"
    wrong = (cols, types[:7] + [STRING] + types[8:], [rows[0][:7] + ["three"] + rows[0][8:]])  # presses a String
    ddata("canteen-1", [{"name": "alarms/events", "datatype": DATASET, "value": missing, "ts": t}])
    ddata("canteen-1", [{"name": "alarms/events", "datatype": DATASET, "value": wrong, "ts": t + 1}])
    assert wait_until(lambda: host.metric("community_host_alarm_rows_malformed_total") == 2, 20), host.metrics()
    assert pg.scalar("SELECT count(*) FROM alarms WHERE alarm_id = 'bad-1'") == 0
    host.wait_log(r"alarms/events rows malformed, not stored \(first: column state missing\)", 10)

    # --- Chromium shows each alarm within 1 s of its DDATA ---------------------------
    browser = Browser("http://127.0.0.1:%d/" % host.board_port)
    try:
        browser.wait("ready", timeout=60)
        first = browser.wait("seen", id=test_row["id"])["card"]
        assert first["test"] == "true" and "test" in first["cls"] and "测试 test" == first["kind"], first
        latencies, calls = [], []
        for i in range(8):
            facility = "canteen-1" if i % 2 == 0 else "station-1"
            raised = now_ms()
            r = {"id": "cord-%d-%d" % (i, raised), "sensor": "cord-%d" % i, "location": "%d0%d 室 Room" % (i, i),
                 "raised_ms": raised}
            sent = now_ms()
            ddata(facility, alarm_metrics(r, raised))
            published.add(facility, r)
            seen = browser.wait("seen", timeout=30, id=r["id"])
            latencies.append(seen["ms"] - sent)
            calls.append((facility, r))
            card = seen["card"]
            name = "华漕长者食堂 Huacao canteen" if facility == "canteen-1" else "华漕养老驿站 Huacao day care"
            assert card["what"] == "%s · %s · %s" % (name, r["location"], r["sensor"]), card
            assert card["when"].startswith(local_text(raised) + " (Asia/Shanghai)"), card
            assert card["presses"].endswith(": 1") and card["esc"] == "未升级 not escalated", card
            assert card["test"] == "false" and card["above_all"], card
        print("board alarm latency, DDATA published -> shown in Chromium (ms):", latencies)
        artifacts = os.path.join(os.environ.get("GATEWAY_BINARY_DIR", str(tmp_path)), "test-artifacts")
        os.makedirs(artifacts, exist_ok=True)
        with open(os.path.join(artifacts, "town_alarms_latency.json"), "w") as f:
            json.dump({"latencies_ms": latencies, "median_ms": statistics.median(latencies),
                       "max_ms": max(latencies)}, f)
        # Not at the next periodic read (a minute away). The latency itself, against the
        # aim of 1 s, is a benchmark figure (bench/RESULTS.md), recorded above.
        assert max(latencies) < BOARD_REFRESH_MS / 12, latencies
        snap = board.snapshot()
        # Real calls first, oldest first; the test press after them.
        assert [a["id"] for a in snap["alarms"]] == [r["id"] for _, r in calls] + [test_row["id"]]

        # A folded press and the escalation of the first call.
        facility, a1 = calls[0]
        esc = now_ms()
        change = dict(a1, presses=3, state="escalated", escalated_ms=esc)
        ddata(facility, alarm_metrics(change, esc))
        published.add(facility, change)
        assert wait_until(lambda: (board.open_alarm(a1["id"]) or {}).get("escalated"), 30)
        shown = board.open_alarm(a1["id"])
        assert shown["presses"] == 3 and shown["state"] == "escalated" and shown["escalated_ms"] == esc, shown
        assert shown["raised_local"] == local_text(a1["raised_ms"])

        # --- acknowledging: login and CSRF ---------------------------------------
        target = {"group": GROUP, "edge_node": "gw-a", "facility": facility, "alarm_id": a1["id"]}
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", target)
        assert st == 401, "acknowledged without a login"
        st, _, text = board.call("POST", "/login", {"user": "zhang.wei", "password": "wrong"})
        assert st == 401, text
        st, headers, text = board.call("POST", "/login", {"user": "zhang.wei", "password": password})
        assert st == 200, text
        cookie = http.cookies.SimpleCookie(headers["Set-Cookie"])
        session = cookie["board_session"]
        assert re.fullmatch(r"[0-9a-f]{64}", session.value), "a session id is not 256 random bits"
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert int(session["max-age"]) > 0
        csrf = json.loads(text)["csrf"]
        assert re.fullmatch(r"[0-9a-f]{64}", csrf) and csrf != session.value
        board.cookie = "board_session=" + session.value
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", target)
        assert st == 403, "acknowledged without the CSRF token"
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": "0" * 64})
        assert st == 403, "acknowledged with a wrong CSRF token"
        st, _, session_json = board.call("GET", "/api/session")
        assert json.loads(session_json) == {"user": "zhang.wei", "csrf": csrf, "login": True}
        assert pg.scalar("SELECT count(*) FROM alarm_ack_requests") == 0
        assert not edge.dcmds
        # Bad input: bounded and refused.
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", dict(target, facility="a/b"),
                              headers={"X-CSRF-Token": csrf})
        assert st == 400
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", dict(target, alarm_id="nope"),
                              headers={"X-CSRF-Token": csrf})
        assert st == 404
        st, _, _ = board.call("POST", "/api/alarms/acknowledge", raw=b"{" * 5000, headers={"X-CSRF-Token": csrf})
        assert st == 413

        # The page's own button, logged in through the page's form.
        browser.send(cmd="login", user="zhang.wei", password=password)
        assert "zhang.wei" in browser.wait("logged_in")["who"]
        clicked_at = now_ms()
        browser.send(cmd="ack", id=a1["id"])
        browser.wait("clicked", id=a1["id"])
        assert wait_until(lambda: edge.dcmds, 30), "no DCMD after the acknowledge button"
        got_at, topic, payload = edge.dcmds[0]
        print("acknowledge button -> DCMD on the broker: %.0f ms" % (got_at * 1000 - clicked_at))
        assert topic == "spBv1.0/%s/DCMD/gw-a/%s" % (GROUP, facility)
        p = Payload.FromString(payload)
        assert p.timestamp >= clicked_at - 1000 and not p.HasField("seq")
        assert {m.name: (m.datatype, m.string_value) for m in p.metrics} == {
            "alarms/acknowledge": (STRING, a1["id"]), "alarms/acknowledged_by": (STRING, "zhang.wei")}
        assert pg.psql("SELECT requested_by, completed_at IS NULL FROM alarm_ack_requests").strip() == "zhang.wei|t"

        # Not yet acknowledged by the gateway: its re-announcement brings the DCMD again,
        # but not sooner than 10 s after the last one.
        again_ts = now_ms()
        ddata(facility, alarm_metrics(change, again_ts))
        assert wait_until(lambda: len(edge.dcmds) >= 2, 20), "the DCMD was not sent again"
        # Brought by the re-announcement after the 10 s floor, not by the 30 s resend. The
        # floor is read from the host's own send stamps: when the test's subscriber took
        # each DCMD varies with the machine's load, when the host sent it does not.
        stamps = [Payload.FromString(d[2]).timestamp for d in edge.dcmds[:2]]
        gap = stamps[1] - stamps[0]
        assert 10000 - 20 <= gap < 25000, (gap, stamps)
        assert Payload.FromString(edge.dcmds[1][2]).metrics[0].string_value == a1["id"]

        # The gateway acknowledges: stored, the request completed, the board drops it.
        ack_ms = now_ms()
        acked = dict(change, state="acknowledged", acknowledged_ms=ack_ms, acknowledged_by="zhang.wei")
        ddata(facility, alarm_metrics(acked, ack_ms))
        published.add(facility, acked)
        gone = browser.wait("gone", timeout=30, id=a1["id"])
        print("acknowledged DDATA -> alarm gone from Chromium: %d ms" % (gone["ms"] - ack_ms))
        assert board.open_alarm(a1["id"]) is None
        assert pg.scalar("SELECT count(*) FROM alarm_ack_requests WHERE completed_at IS NOT NULL") == 1
        assert wait_until(lambda: host.metric("community_host_alarm_acknowledges_pending") == 0, 30)
        stored = pg.psql("SELECT state, presses, (extract(epoch FROM escalated_at) * 1000)::bigint,"
                         " (extract(epoch FROM acknowledged_at) * 1000)::bigint, acknowledged_by FROM alarms"
                         " WHERE alarm_id = '%s'" % a1["id"]).strip()
        assert stored == "acknowledged|3|%d|%d|zhang.wei" % (esc, ack_ms), stored

        # A late re-announcement sent before the acknowledgement (older, escalated, fewer
        # presses): stored as a sample, but the alarm does not go back.
        before = host.metric("community_host_alarm_rows_stored_total")
        stale = dict(a1, presses=2, state="escalated", escalated_ms=esc + 5000)
        ddata(facility, alarm_metrics(stale, esc + 1))
        assert wait_until(lambda: host.metric("community_host_alarm_rows_stored_total") == before + 1, 30)
        assert pg.psql("SELECT state, presses, (extract(epoch FROM escalated_at) * 1000)::bigint,"
                       " (extract(epoch FROM acknowledged_at) * 1000)::bigint, acknowledged_by FROM alarms"
                       " WHERE alarm_id = '%s'" % a1["id"]).strip() == stored
        # The board reads on the commit's NOTIFY and every refresh: a snapshot taken well
        # after the commit must still not show it.
        assert wait_until(lambda: board.snapshot()["now_ms"] > esc + 1 + 600, 30)
        assert board.open_alarm(a1["id"]) is None, "a stale re-announcement reopened the alarm"
        st, _, text = board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": csrf})
        assert st == 200 and json.loads(text) == {"state": "acknowledged", "requested": False}

        browser.send(cmd="shot", path=os.path.join(artifacts, "town_alarms.png"))
        browser.wait("shot")
        browser.close()
        bye = browser.find("bye")
        assert bye and not bye["errors"], bye
    finally:
        browser.close()

    # --- logout; login attempts are limited -----------------------------------
    st, _, _ = board.call("POST", "/logout", headers={"X-CSRF-Token": csrf})
    assert st == 200
    st, _, _ = board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": csrf})
    assert st == 401, "the session outlived its logout"
    board.cookie = None
    for _ in range(5):
        assert board.call("POST", "/login", {"user": "li.na", "password": "guess"})[0] == 401
    st, headers, _ = board.call("POST", "/login", {"user": "li.na", "password": other_password})
    assert st == 429 and "Retry-After" in headers, "login attempts are not limited"

    # Nothing secret in logs, pages or the snapshot.
    log = host.log_text()
    page = board.call("GET", "/")[2]
    snap_text = board.call("GET", "/api/board")[2]
    for secret in (password, other_password, session.value, csrf, m.group(3)):
        assert secret not in log and secret not in page and secret not in snap_text
    assert "pbkdf2" not in log and "pbkdf2" not in snap_text

    # --- the town report ------------------------------------------------------
    yesterday = datetime.datetime.now(TZ).date() - datetime.timedelta(days=1)
    history = {
        "canteen-1": [
            {"id": "h1", "sensor": "cord-1", "raised_ms": local_ms(yesterday, 9, 0), "presses": 2,
             "state": "acknowledged", "acknowledged_ms": local_ms(yesterday, 9, 0) + 12500, "acknowledged_by": "x"},
            {"id": "h2", "sensor": "cord-2", "raised_ms": local_ms(yesterday, 10, 0), "state": "acknowledged",
             "acknowledged_ms": local_ms(yesterday, 10, 0) + 45000},
            {"id": "h3", "sensor": "cord-1", "raised_ms": local_ms(yesterday, 11, 0), "test": True,
             "state": "acknowledged", "acknowledged_ms": local_ms(yesterday, 11, 0) + 5000},
            # Raised before local midnight, acknowledged after: a call of the day it was raised.
            {"id": "h4", "sensor": "cord-3", "raised_ms": local_ms(yesterday, 23, 59, 50), "presses": 3,
             "state": "acknowledged", "acknowledged_ms": local_ms(yesterday, 23, 59, 50) + 30000}],
        "station-1": [
            {"id": "h5", "sensor": "cord-5", "raised_ms": local_ms(yesterday, 8, 0), "presses": 4,
             "state": "escalated", "escalated_ms": local_ms(yesterday, 8, 2)},
            {"id": "h6", "sensor": "cord-6", "raised_ms": local_ms(yesterday, 8, 30), "state": "acknowledged",
             "acknowledged_ms": local_ms(yesterday, 8, 30) + 20000}],
    }
    for facility, rows in history.items():
        ddata(facility, [{"name": "alarms/events", "datatype": DATASET, "value": alarm_events(rows), "ts": now_ms()}])
        for r in rows:
            published.add(facility, r)
    total = len(published.alarms)
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM alarms") == total, 20)

    today = datetime.datetime.now(TZ).date()
    days = {}
    for (facility, _), r in published.alarms.items():
        d = datetime.datetime.fromtimestamp(r["raised_ms"] / 1000, TZ).date().isoformat()
        days.setdefault((facility, d), []).append(r)
    want_days = {k: expected_figures(v) for k, v in days.items()}
    want_town = expected_figures(list(published.alarms.values()))
    assert want_days[("canteen-1", yesterday.isoformat())] == {
        "alarms": 3, "test_presses": 1, "presses_folded": 3, "acknowledged": 3, "ack_median_s": 30.0,
        "ack_worst_s": 45.0, "open": 0}  # the definitions, worked by hand once

    out = tmp_path / "town.json"
    r = subprocess.run([host.binary, "--config", host.config_path, "report", "--from", yesterday.isoformat(),
                        "--to", today.isoformat(), "--format", "json", "--out", str(out)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())["alarms"]
    assert rep["timezone"] == "Asia/Shanghai"
    got_days = {(d["facility_id"], d["date"]): {k: d[k] for k in want_town} for d in rep["days"]}
    assert got_days == want_days
    assert {k: rep["town"][k] for k in want_town} == want_town
    for f in rep["facilities"]:
        rows = [r for (fac, _), r in published.alarms.items() if fac == f["facility_id"]]
        assert {k: f[k] for k in want_town} == expected_figures(rows)

    r = subprocess.run([host.binary, "--config", host.config_path, "report", "--from", yesterday.isoformat(),
                        "--to", today.isoformat(), "--format", "csv", "--out", "-"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("报警 Alarms"))
    table = list(csv.reader(io.StringIO("\n".join(lines[start + 1:]))))

    def cells(f):
        s = lambda v: "" if v is None else "%.1f" % v  # noqa: E731
        return [str(f["alarms"]), str(f["test_presses"]), str(f["presses_folded"]), str(f["acknowledged"]),
                s(f["ack_median_s"]), s(f["ack_worst_s"]), str(f["open"])]
    assert {(row[2], row[3]): row[4:] for row in table[:-1]} == {k: cells(v) for k, v in want_days.items()}
    assert table[-1][0].startswith("合计") and table[-1][4:] == cells(want_town)

    r = subprocess.run([host.binary, "--config", host.config_path, "report", "--from", yesterday.isoformat(),
                        "--to", today.isoformat(), "--format", "html", "--out", "-"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    section = r.stdout[r.stdout.index('<section id="alarms">'):]
    section = section[:section.index("</section>")]
    town_row = section[section.index("全镇合计"):]
    assert re.findall(r"<td(?: class=\"bad\")?>([^<]*)</td>", town_row)[:7] == [
        c if c else "—" for c in cells(want_town)]
    edge.stop()


def test_acknowledge_request_survives_a_host_kill(tmp_path, broker, make_postgres, make_host):
    """An operator's acknowledge is a committed row: a host killed -9 after it sends the
    DCMD again from the stored request once it is back, with no new click."""
    password = "wang-Night-shift-3"
    users = tmp_path / "operators"
    users.write_text(hash_line("wang", password) + "\n")
    pg = make_postgres()
    keys = {"users_file": str(users)}
    host = make_host(broker, pg, [GROUP], board_keys=keys)
    host.wait_log(r"STATE online published", 30)
    edge = Edge(broker, GROUP, "gw-b")
    t = now_ms()
    call = {"id": "pull-1-%d" % t, "sensor": "pull-1", "location": "Bed 4", "raised_ms": t}
    edge.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 1}])
    edge.publish("DBIRTH", 1, facility_birth("elderly_station", "新虹养老驿站 Xinhong", t, [call]), device="home-1")
    board = Board(host.board_port)
    assert wait_until(lambda: board.open_alarm(call["id"]), 20)
    st, headers, text = board.call("POST", "/login", {"user": "wang", "password": password})
    assert st == 200, text
    board.cookie = "board_session=" + http.cookies.SimpleCookie(headers["Set-Cookie"])["board_session"].value
    target = {"group": GROUP, "edge_node": "gw-b", "facility": "home-1", "alarm_id": call["id"]}
    st, _, _ = board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": json.loads(text)["csrf"]})
    assert st == 202
    assert wait_until(lambda: edge.dcmds, 30)
    host.kill()
    restarted = len(edge.dcmds)
    host.start()
    host.wait_log(r"STATE online published.*\n(.|\n)*STATE online published", 30)
    assert wait_until(lambda: len(edge.dcmds) > restarted, 30), "the stored request was not sent after the restart"
    p = Payload.FromString(edge.dcmds[-1][2])
    assert {m.name: m.string_value for m in p.metrics} == {"alarms/acknowledge": call["id"],
                                                          "alarms/acknowledged_by": "wang"}
    # The session was the killed process's: gone with it.
    st, _, _ = board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": "x"})
    assert st == 401
    edge.publish("DDATA", 2, alarm_metrics(dict(call, state="acknowledged", acknowledged_ms=now_ms(),
                                                acknowledged_by="wang"), now_ms()), device="home-1")
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM alarm_ack_requests WHERE completed_at IS NOT NULL")
                      == 1, 30)
    assert wait_until(lambda: board.open_alarm(call["id"]) is None, 30)
    edge.stop()
