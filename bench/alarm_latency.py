#!/usr/bin/env python3
"""Emergency-call latency benchmark (issue 15): press to broker, with an idle gateway
and while it drains a large backlog after an outage, through the real binary, a real
mosquitto and the HTTP ingest driver, all started here on free loopback ports.

  bench/alarm_latency.py BUILD [--backlog 1000000] [--presses 100] [--interval-ms 200]

A press is one HTTP POST of {"point":"action","value":"emergency"} to one of 20 call
buttons in turn, at --interval-ms; the subscriber acknowledges every raised alarm at once
by DCMD (as a host would), so each press is a new alarm (a press after its sensor's
acknowledgement is a new call). Every button reported an action that is not a call
before, so its raw point is in the DBIRTH already, as on a site where the buttons have
reported. Its latency is from just before the POST
is sent to the arrival, at a subscriber of the alarm facility's DDATA topic, of the
alarms/events row with that alarm's id: HTTP, the commit (fsync), the uplink, the broker
and the subscriber, end to end. The backlog is --backlog raw readings of another
facility (temperature points, which derive nothing), posted while the broker is down;
the broker then starts, and presses are made while buffer/depth (the node's NDATA)
shows the drain under way. Presses made after the drain ended are not counted in the
drain series (their number is printed).

Both series come from the same gateway process and the same run, so they compare on any
machine; the absolute figures are this machine's.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from helpers import base_config, free_port, wait_until  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

GROUP, EDGE = "huacao", "gw-bench"
TOKEN = "bench-token"
SENSORS = 50
CALL_BUTTONS = 20
WALL = []  # (alarm id, wall-clock ms of the press), for the log-based split


class Watcher:
    """Records the arrival of every alarms/events row (by alarm id) and the node's
    buffer/depth, on paho's thread."""

    def __init__(self, port, payload_cls):
        self.payload_cls = payload_cls
        self.arrivals = {}
        self.acked = {}
        self.depth = None
        self.max_depth = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id="bench-watch", clean_session=True)
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("spBv1.0/%s/DDATA/%s/station-1" % (GROUP, EDGE), 1),
                               ("spBv1.0/%s/NDATA/%s" % (GROUP, EDGE), 0),
                               ("spBv1.0/%s/NBIRTH/%s" % (GROUP, EDGE), 1)])
        self.births = 0
        self.client.loop_start()

    def on_message(self, client, userdata, msg):
        now = time.monotonic()
        p = self.payload_cls()
        p.ParseFromString(msg.payload)
        with self.lock:
            if "/NBIRTH/" in msg.topic:
                self.births += 1
            for m in p.metrics:
                if m.HasField("dataset_value"):
                    for row in m.dataset_value.rows:
                        alarm_id = row.elements[0].string_value
                        state = row.elements[5].string_value
                        if state == "acknowledged":
                            self.acked.setdefault(alarm_id, now)
                        elif alarm_id not in self.arrivals:
                            self.arrivals[alarm_id] = now
                            self.acknowledge(alarm_id)
                elif "/NDATA/" in msg.topic and m.alias == 2:  # buffer/depth (node alias 2)
                    self.depth = m.long_value
                    self.max_depth = max(self.max_depth, m.long_value)

    def acknowledge(self, alarm_id):
        p = self.payload_cls()
        p.timestamp = int(time.time() * 1000)
        m = p.metrics.add()
        m.name = "alarms/acknowledge"
        m.datatype = 12
        m.string_value = alarm_id
        self.client.publish("spBv1.0/%s/DCMD/%s/station-1" % (GROUP, EDGE), p.SerializeToString(), qos=1)

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def post(conn, body):
    for _ in range(1000):
        conn.request("POST", "/api/v1/readings", body=body,
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        r = conn.getresponse()
        data = r.read()
        if r.status == 202:
            return
        if r.status == 429:  # the core pushes back: try again shortly
            time.sleep(0.05)
            continue
        raise RuntimeError("POST answered %d: %s" % (r.status, data[:200]))
    raise RuntimeError("POST refused 1000 times")


def fill_backlog(http_port, n, now_ms):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
    per_sensor = n // SENSORS
    start = now_ms - per_sensor * 1000 - 60000
    batch, sent = [], 0
    t0 = time.monotonic()
    for k in range(per_sensor):
        for s in range(SENSORS):
            batch.append({"sensor": "cam-%d" % s, "point": "temperature", "value": 20.0 + (k % 50) / 10.0,
                          "ts": start + k * 1000})
            if len(batch) == 10000:
                post(conn, json.dumps({"facility": "canteen-1", "readings": batch}))
                sent += len(batch)
                batch = []
    if batch:
        post(conn, json.dumps({"facility": "canteen-1", "readings": batch}))
        sent += len(batch)
    conn.close()
    return sent, time.monotonic() - t0


def presses(http_port, first, count, interval_ms, until=None):
    """(alarm id, monotonic send time) of each press."""
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    out = []
    wall = WALL
    for i in range(first, first + count):
        if until and until():
            break
        ts = int(time.time() * 1000)
        sensor = "sos-%d" % (i % CALL_BUTTONS)
        wall.append((("%s-%d" % (sensor, ts)), time.time() * 1000.0))
        body = json.dumps({"facility": "station-1", "readings": [
            {"sensor": sensor, "point": "action", "value": "emergency", "ts": ts}]})
        t = time.monotonic()
        post(conn, body)
        out.append(("%s-%d" % (sensor, ts), t))
        time.sleep(interval_ms / 1000.0)
    conn.close()
    return out


def raised_at(gw):
    """Wall-clock ms at which the gateway's log says each alarm was raised (the press
    reached the core's loop and is being committed)."""
    import datetime
    import re
    out = {}
    for line in gw.log_text(whole=True).splitlines():
        m = re.match(r"(\S+) warning alarms: ALARM (\S+) raised", line)
        if m:
            t = datetime.datetime.fromisoformat(m.group(1))
            out[m.group(2)] = t.timestamp() * 1000.0
    return out


def split(gw, sent_wall):
    """p50 of press -> raised (HTTP and the core's queue) over the presses."""
    raised = raised_at(gw)
    d = sorted(raised[a] - w for a, w in sent_wall if a in raised)
    return statistics.median(d) if d else None


def series(watch, sent, table="arrivals"):
    lat = []
    with watch.lock:
        arrivals = getattr(watch, table)
        for alarm_id, t in sent:
            if alarm_id in arrivals:
                lat.append((arrivals[alarm_id] - t) * 1000.0)
    missing = len(sent) - len(lat)
    lat.sort()
    if not lat:
        return {"n": 0, "missing": missing}
    return {"n": len(lat), "missing": missing, "p50": statistics.median(lat),
            "p99": lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))], "max": lat[-1]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--backlog", type=int, default=1000000)
    ap.add_argument("--presses", type=int, default=100)
    ap.add_argument("--interval-ms", type=int, default=100)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("GATEWAY_BIN", os.path.join(build, "gateway", "community-gateway"))
    sys.path.insert(0, os.path.join(build, "py"))
    import sparkplug_b_pb2  # noqa: E402
    from gateway import Gateway  # noqa: E402

    work = tempfile.mkdtemp(prefix="alarm-bench-")
    broker = Mosquitto(work, extra_conf=["max_queued_messages 100000"])
    broker.port = free_port()
    http_port = free_port()
    n_calls = CALL_BUTTONS
    facilities = [
        {"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
         "sensors": [{"id": "cam-%d" % s, "kind": "occupancy", "driver": "http"} for s in range(SENSORS)]},
        {"id": "station-1", "type": "elderly_station", "name": "Station", "capacity": 30,
         "sensors": [{"id": "sos-%d" % i, "kind": "call_button", "driver": "http"} for i in range(n_calls)]}]
    cfg = base_config(GROUP, EDGE, os.path.join(work, "data"), facilities)
    cfg["simulator"] = {"enabled": False}
    # The shipped defaults, as on a board: group commits of 20 ms, the low-rate delay.
    cfg["buffer"] = {"max_pending_readings": 100000, "max_disk_mb": 2048}
    cfg["drivers"] = {"http": {"enabled": True, "port": http_port, "token": TOKEN, "max_readings": 10000,
                               "max_body_bytes": 4 << 20}}
    cfg["alarms"] = {"escalate_after_s": 3600, "reannounce_s": 3600}
    cfg["log"] = {"level": os.environ.get("BENCH_LOG", "info")}
    broker.start()
    gw = Gateway(work, cfg, [broker.uri])
    gw.start()
    try:
        gw.wait_log(r"uplink: NBIRTH", 30)
        gw.wait_log(r"http ingest: POST", 30)
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
        post(conn, json.dumps({"facility": "station-1", "readings": [
            {"sensor": "sos-%d" % i, "point": "action", "value": "idle"} for i in range(n_calls)]}))
        conn.close()
        watch = Watcher(broker.port, sparkplug_b_pb2.Payload)
        idle = presses(http_port, 0, args.presses, args.interval_ms)
        wait_until(lambda: all(a in watch.arrivals for a, _ in idle), 30)
        idle_fig = series(watch, idle)
        idle_fig["press_to_core_p50"] = split(gw, WALL)
        wait_until(lambda: all(a in watch.acked for a, _ in idle), 30)
        idle_ack = series(watch, idle, "acked")
        WALL.clear()

        broker.stop()
        gw.wait_log(r"uplink: connection lost|uplink: connect to .* failed", 30)
        n, fill_s = fill_backlog(http_port, args.backlog, int(time.time() * 1000))
        print("backlog: %d readings posted in %.1f s" % (n, fill_s))
        watch.stop()
        broker.start()
        watch = Watcher(broker.port, sparkplug_b_pb2.Payload)
        t_drain = time.monotonic()
        # The drain starts with the births of the new connection (before them nothing is
        # published, alarms included: that wait is the reconnection's, not the lane's)
        # and is under way until the node reports a buffer of fewer than 1,000 readings.
        wait_until(lambda: watch.births > 0, 60)
        reconnect_s = time.monotonic() - t_drain
        drained = lambda: watch.depth is not None and watch.depth < 1000  # noqa: E731
        during = presses(http_port, args.presses, 100000, args.interval_ms, until=drained)
        wait_until(lambda: drained(), 600)
        drain_s = time.monotonic() - t_drain
        depth0 = watch.max_depth
        wait_until(lambda: all(a in watch.arrivals for a, _ in during), 60)
        drain_fig = series(watch, during)
        drain_fig["press_to_core_p50"] = split(gw, WALL)
        wait_until(lambda: all(a in watch.acked for a, _ in during), 60)
        drain_ack = series(watch, during, "acked")
        result = {"idle": idle_fig, "drain": drain_fig, "idle_press_to_acknowledged": idle_ack,
                  "drain_press_to_acknowledged": drain_ack, "backlog_posted": n, "max_depth_seen": depth0,
                  "drain_s": round(drain_s, 1), "reconnect_s": round(reconnect_s, 2), "interval_ms": args.interval_ms}
        print(json.dumps(result, indent=1))
        watch.stop()
    finally:
        gw.kill()
        broker.stop()


if __name__ == "__main__":
    main()
