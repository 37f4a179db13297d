"""HTTP ingest driver: curl and a concurrent keep-alive client against the real binary.

Proves at the platform side that accepted batches arrive decoded (types by point,
timestamps as sent), and at the HTTP side: 202 only after commit, 400 naming the bad
field, 401 without or with a wrong bearer token, 413 over the size limit, 429 with
Retry-After when the core pushes back, a slow-loris client cut off while others are
served, and 40 concurrent keep-alive clients whose every reading arrives exactly once.
"""

import http.client
import json
import shutil
import socket
import subprocess
import threading
import time

from helpers import UINT64, BOOLEAN, DOUBLE, base_config, free_port
from sparkplug import latest, readings, value_is

GROUP, EDGE = "huacao", "gw-http"
TOKEN = "s3cret-token-for-tests"


def curl(port, body, token=TOKEN, content_type="application/json"):
    """(status, json body) of a POST made by curl."""
    exe = shutil.which("curl") or "/usr/bin/curl"
    args = [exe, "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
            "http://127.0.0.1:%d/api/v1/readings" % port, "-H", "Content-Type: " + content_type,
            "--data-binary", "@-"]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    out = subprocess.run(args, input=body.encode() if isinstance(body, str) else body, capture_output=True,
                         check=True, timeout=30).stdout.decode()
    text, code = out.rsplit("\n", 1)
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = text
    return int(code), parsed


def config(tmp_path, port, max_pending=100000):
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
                   "sensors": [{"id": "meal-1", "kind": "meal_terminal", "driver": "http"},
                               {"id": "cam-1", "kind": "occupancy", "driver": "http"}]},
                  {"id": "station-1", "type": "elderly_station", "name": "Station", "capacity": 50,
                   "sensors": [{"id": "checkin-1", "kind": "checkin_terminal", "driver": "http"}] +
                              [{"id": "load-%d" % i, "kind": "occupancy", "driver": "http"} for i in range(40)]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities,
                      buffer={"max_pending_readings": max_pending})
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN, "max_body_bytes": 65536,
                               "max_readings": 1000, "request_timeout_s": 2, "max_connections": 100}}
    return cfg


def test_http_ingest(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port), [broker.uri])
    gw.wait_log(r"http ingest: POST /api/v1/readings on 127\.0\.0\.1:%d" % port, 15)

    now = int(time.time() * 1000)
    code, body = curl(port, json.dumps({"facility": "canteen-1", "readings": [
        {"sensor": "meal-1", "point": "meals_total", "value": 120, "ts": now - 2000},
        {"sensor": "cam-1", "point": "occupancy", "value": 17, "ts": now - 2000},
        {"sensor": "cam-1", "point": "door_open", "value": "on", "type": "bool", "ts": now - 2000},
        {"sensor": "cam-1", "point": "temperature", "value": 21.5}]}))
    assert (code, body) == (202, {"accepted": 4})
    sub.wait_for(value_is("canteen-1", "sensors/meal-1/meals_total", 120), 15, "meals_total 120")
    msgs = sub.snapshot()
    m = latest(msgs, "canteen-1", "sensors/meal-1/meals_total")
    assert m["datatype"] == UINT64 and m["timestamp"] == now - 2000
    assert latest(msgs, "canteen-1", "sensors/cam-1/door_open")["datatype"] == BOOLEAN
    assert latest(msgs, "canteen-1", "sensors/cam-1/temperature")["datatype"] == DOUBLE
    sub.wait_for(value_is("canteen-1", "occupancy/current", 17), 10, "occupancy from the camera")
    code, _ = curl(port, json.dumps({"facility": "canteen-1", "sensor": "meal-1",
                                     "readings": [{"point": "meals_total", "value": 125, "ts": now - 1000}]}))
    assert code == 202
    sub.wait_for(value_is("canteen-1", "meals/served", 5), 10, "meals served 5")

    # Authentication.
    assert curl(port, '{"readings":[]}', token=None)[0] == 401
    assert curl(port, '{"readings":[]}', token="wrong")[0] == 401
    # Bad input names the field.
    cases = [
        ("{not json", "body"),
        ('[1,2]', "body"),
        ('{"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"meals_total"}]}', "readings[0].value"),
        ('{"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"meals_total","value":-3}]}',
         "readings[0].value"),
        ('{"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"meals_total","value":"abc"}]}',
         "readings[0].value"),
        ('{"facility":"canteen-1","readings":[{"sensor":"meal-1","point":"meals_total","value":1},'
         '{"sensor":"nope","point":"x","value":1}]}', "readings[1].sensor"),
        ('{"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"meals_total","value":1,"ts":"soon"}]}',
         "readings[0].ts"),
        ('{"readings":[{"facility":"canteen-1","sensor":"meal-1","pont":"meals_total","value":1}]}',
         "readings[0].pont"),
        ('{"readings":[]}', "readings"),
    ]
    for body_text, field in cases:
        code, err = curl(port, body_text)
        assert code == 400, (body_text, code, err)
        assert err["error"].startswith(field), (body_text, err)
    # Too large.
    big = json.dumps({"facility": "canteen-1", "sensor": "cam-1",
                      "readings": [{"point": "note", "value": "x" * 70000}]})
    assert curl(port, big)[0] == 413
    assert gw.running()

    # Slow loris: a client that trickles its header is cut off; others are served meanwhile.
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /api/v1/readings HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    assert curl(port, json.dumps({"facility": "canteen-1", "sensor": "cam-1",
                                  "readings": [{"point": "occupancy", "value": 18}]}))[0] == 202
    slow.settimeout(10)
    closed = False
    try:
        while True:
            slow.sendall(b"X")
            if slow.recv(1024) in (b"",):
                closed = True
                break
    except (OSError, socket.timeout):
        closed = True
    assert closed and time.monotonic() - t0 < 8, "slow client not cut off"
    slow.close()

    # 40 concurrent keep-alive clients, 10 requests of 5 readings each.
    def client(i, errors):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for k in range(10):
                batch = {"facility": "station-1", "sensor": "load-%d" % i, "readings": [
                    {"point": "occupancy", "value": k * 5 + j, "ts": now + 100 * (k * 5 + j)} for j in range(5)]}
                conn.request("POST", "/api/v1/readings", json.dumps(batch),
                             {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
                res = conn.getresponse()
                res.read()
                if res.status != 202:
                    errors.append(res.status)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            conn.close()
    errors = []
    threads = [threading.Thread(target=client, args=(i, errors)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]

    def all_arrived(msgs):
        r = readings(msgs)
        return all(len({m["timestamp"] for m in r.get(("station-1", "sensors/load-%d/occupancy" % i), [])}) == 50
                   for i in range(40))
    sub.wait_for(all_arrived, 30, "2000 concurrent readings")
    r = readings(sub.snapshot())
    for i in range(40):
        got = sorted((m["timestamp"], m["value"]) for m in r[("station-1", "sensors/load-%d/occupancy" % i)])
        assert got == [(now + 100 * n, n) for n in range(50)]
    assert gw.terminate(timeout=30) == 0
    assert "bad requests" in gw.log_text()


def test_http_ingest_busy(tmp_path, broker, make_subscriber, make_gateway):
    """The core's back-pressure: a batch larger than what may wait in memory is refused
    with 429 and Retry-After, nothing stored; a smaller one passes."""
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port, max_pending=10), [broker.uri])
    gw.wait_log(r"http ingest: POST", 15)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    base = int(time.time() * 1000) - 60000
    batch = {"facility": "station-1", "sensor": "load-0",
             "readings": [{"point": "occupancy", "value": n, "ts": base + n} for n in range(11)]}
    conn.request("POST", "/api/v1/readings", json.dumps(batch),
                 {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    res = conn.getresponse()
    res.read()
    assert res.status == 429 and res.getheader("Retry-After") == "1"
    batch["readings"] = batch["readings"][:5]
    conn.request("POST", "/api/v1/readings", json.dumps(batch),
                 {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    res = conn.getresponse()
    res.read()
    assert res.status == 202
    sub.wait_for(lambda msgs: len(readings(msgs).get(("station-1", "sensors/load-0/occupancy"), [])) >= 5, 15,
                 "the accepted five")
    sub.barrier()
    assert len(readings(sub.snapshot())[("station-1", "sensors/load-0/occupancy")]) == 5
    conn.close()
    assert gw.terminate(timeout=30) == 0


def test_http_ingest_how_far_back(tmp_path, broker, make_subscriber, make_gateway):
    """A reading may be stamped up to history.late_days (7) local days back: a device that
    buffered for 6 days is accepted and published with its own timestamps; one stamped
    9 days back is refused with 400 naming the setting, and nothing of its batch is stored."""
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port), [broker.uri])
    gw.wait_log(r"http ingest: POST", 15)
    now = int(time.time() * 1000)
    day = 86400000

    def post(readings):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/api/v1/readings",
                         json.dumps({"facility": "station-1", "sensor": "load-0", "readings": readings}),
                         {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
            res = conn.getresponse()
            return res.status, json.loads(res.read() or b"{}")
        finally:
            conn.close()

    status, body = post([{"point": "occupancy", "value": 7, "ts": now - 9 * day},
                         {"point": "occupancy", "value": 8, "ts": now - 60000}])
    assert status == 400
    assert "history.late_days" in body["error"] and "readings[0].ts" in body["error"]
    status, _ = post([{"point": "occupancy", "value": 6, "ts": now - 6 * day}])
    assert status == 202
    key = ("station-1", "sensors/load-0/occupancy")
    sub.wait_for(lambda m: key in readings(m), 30, "the 6-day-old reading")
    got = [(x["timestamp"], x["value"]) for x in readings(sub.snapshot())[key]]
    assert got == [(now - 6 * day, 6)]  # its own time; the refused batch left nothing
    assert gw.terminate(timeout=30) == 0
