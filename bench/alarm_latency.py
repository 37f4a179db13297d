#!/usr/bin/env python3
"""Emergency-call latency benchmark (issue 15): press to broker, with an idle gateway
and while it drains a large backlog after an outage, through the real binary, a real
mosquitto and the HTTP ingest driver, all started here on free loopback ports.

  bench/alarm_latency.py BUILD [--mode all|drain|roundtrip] [--backlog 1000000] [--cycles 3]
      [--presses 100] [--interval-ms 100] [--drain-interval-ms 100]
      [--roundtrip-presses 100] [--roundtrip-interval-ms 200]

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

The drain is repeated --cycles times (an outage, --backlog readings, the reconnection,
the drain) so that the drain series has enough presses for its p99 (a 1,000,000-reading
drain lasts a few seconds here); the idle series is taken before the first outage.
Both series come from the same gateway process and the same run, so they compare on any
machine; the absolute figures are this machine's.

--mode roundtrip (also part of "all") measures press to acknowledged through the real
town host: a gateway following community-host as its primary host, the host on a
PostgreSQL of its own (initdb in a temporary directory), and an automated operator that
reads the board's server-sent events (/events, the same snapshots the page gets) and
acknowledges each new open alarm at once through POST /api/alarms/acknowledge (logged
in, with the CSRF token). Per press: to the host's row (first_seen_at, the host's clock
as its commit begins; same machine, same clock as the press), to the operator seeing it
on the board (committed, read, sent), to the DCMD on the broker (a subscriber beside the
gateway: the broker delivers the same message to the gateway) and to the gateway's
acknowledged row on the wire.
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
PUSHBACK = []  # 429s each press's POST got before its 202 (a press must not be pushed back)


class Watcher:
    """Records the arrival of every alarms/events row (by alarm id) and the node's
    buffer/depth, on paho's thread."""

    def __init__(self, port, payload_cls, auto_ack=True):
        self.payload_cls = payload_cls
        self.auto_ack = auto_ack  # False: the real host acknowledges (--mode roundtrip)
        self.arrivals = {}
        self.acked = {}
        self.dcmds = {}  # alarm id -> first DCMD alarms/acknowledge seen
        self.depth = None
        self.max_depth = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id="bench-watch", clean_session=True)
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("spBv1.0/%s/DDATA/%s/station-1" % (GROUP, EDGE), 1),
                               ("spBv1.0/%s/NDATA/%s" % (GROUP, EDGE), 0),
                               ("spBv1.0/%s/NBIRTH/%s" % (GROUP, EDGE), 1),
                               ("spBv1.0/%s/DCMD/%s/station-1" % (GROUP, EDGE), 1)])
        self.births = 0
        self.client.loop_start()

    def on_message(self, client, userdata, msg):
        now = time.monotonic()
        p = self.payload_cls()
        p.ParseFromString(msg.payload)
        with self.lock:
            if "/NBIRTH/" in msg.topic:
                self.births += 1
            if "/DCMD/" in msg.topic:
                for m in p.metrics:
                    if m.name == "alarms/acknowledge":
                        self.dcmds.setdefault(m.string_value, now)
                return
            for m in p.metrics:
                if m.HasField("dataset_value"):
                    for row in m.dataset_value.rows:
                        alarm_id = row.elements[0].string_value
                        state = row.elements[5].string_value
                        if state == "acknowledged":
                            self.acked.setdefault(alarm_id, now)
                        elif alarm_id not in self.arrivals:
                            self.arrivals[alarm_id] = now
                            if self.auto_ack:
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
    """POSTs until 202; returns how many 429s (pushback) came first."""
    for refused in range(1000):
        conn.request("POST", "/api/v1/readings", body=body,
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        r = conn.getresponse()
        data = r.read()
        if r.status == 202:
            return refused
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
        PUSHBACK.append(post(conn, body))
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


def gateway_config(work, http_port, primary_host_id=None):
    facilities = [
        {"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
         "sensors": [{"id": "cam-%d" % s, "kind": "occupancy", "driver": "http"} for s in range(SENSORS)]},
        {"id": "station-1", "type": "elderly_station", "name": "Station", "capacity": 30,
         "sensors": [{"id": "sos-%d" % i, "kind": "call_button", "driver": "http"} for i in range(CALL_BUTTONS)]}]
    uplink = {"primary_host_id": primary_host_id} if primary_host_id else None
    cfg = base_config(GROUP, EDGE, os.path.join(work, "data"), facilities, uplink=uplink)
    cfg["simulator"] = {"enabled": False}
    # The shipped defaults, as on a board: group commits of 20 ms, the low-rate delay.
    cfg["buffer"] = {"max_pending_readings": 100000, "max_disk_mb": 2048}
    cfg["drivers"] = {"http": {"enabled": True, "port": http_port, "token": TOKEN, "max_readings": 10000,
                               "max_body_bytes": 4 << 20}}
    cfg["alarms"] = {"escalate_after_s": 3600, "reannounce_s": 3600}
    cfg["log"] = {"level": os.environ.get("BENCH_LOG", "info")}
    return cfg


def announce_buttons(http_port):
    """Every button reports a non-call action first, so its raw point is in the births."""
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    post(conn, json.dumps({"facility": "station-1", "readings": [
        {"sensor": "sos-%d" % i, "point": "action", "value": "idle"} for i in range(CALL_BUTTONS)]}))
    conn.close()


def merge(figs):
    """One series from the latency lists of several."""
    return sorted(x for f in figs for x in f)


def stats(lat, missing=0):
    lat = sorted(lat)
    if not lat:
        return {"n": 0, "missing": missing}
    return {"n": len(lat), "missing": missing, "p50": round(statistics.median(lat), 1),
            "p99": round(lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))], 1), "max": round(lat[-1], 1)}


def latencies(watch, sent, table="arrivals"):
    with watch.lock:
        arrivals = getattr(watch, table)
        return [(arrivals[a] - t) * 1000.0 for a, t in sent if a in arrivals]


def run_drain(args, pb):
    from gateway import Gateway  # noqa: E402
    work = tempfile.mkdtemp(prefix="alarm-bench-")
    broker = Mosquitto(work, extra_conf=["max_queued_messages 100000"])
    broker.port = free_port()
    http_port = free_port()
    broker.start()
    gw = Gateway(work, gateway_config(work, http_port), [broker.uri])
    gw.start()
    try:
        gw.wait_log(r"uplink: NBIRTH", 30)
        gw.wait_log(r"http ingest: POST", 30)
        announce_buttons(http_port)
        watch = Watcher(broker.port, pb.Payload)
        idle = presses(http_port, 0, args.presses, args.interval_ms)
        wait_until(lambda: all(a in watch.arrivals for a, _ in idle), 30)
        idle_lat = latencies(watch, idle)
        idle_core = split(gw, WALL)
        wait_until(lambda: all(a in watch.acked for a, _ in idle), 30)
        idle_ack = latencies(watch, idle, "acked")
        WALL.clear()
        idle_pushback = sum(PUSHBACK)
        PUSHBACK.clear()

        drain_lat, drain_ack, cores, cycles = [], [], [], []
        first = args.presses
        for c in range(args.cycles):
            broker.stop()
            gw.wait_log(r"uplink: connection to \S+ lost|uplink: connect to .* failed", 30)
            n, fill_s = fill_backlog(http_port, args.backlog, int(time.time() * 1000))
            watch.stop()
            broker.start()
            watch = Watcher(broker.port, pb.Payload)
            t_drain = time.monotonic()
            # The drain starts with the births of the new connection (before them nothing
            # is published, alarms included: that wait is the reconnection's, not the
            # lane's) and is under way until the node reports fewer than 1,000 readings.
            wait_until(lambda: watch.births > 0, 60)
            reconnect_s = time.monotonic() - t_drain
            drained = lambda: watch.depth is not None and watch.depth < 1000  # noqa: E731
            during = presses(http_port, first, 100000, args.drain_interval_ms, until=drained)
            first += len(during)
            wait_until(lambda: drained(), 900)
            drain_s = time.monotonic() - t_drain
            wait_until(lambda: all(a in watch.arrivals for a, _ in during), 60)
            cycle_lat = latencies(watch, during)
            drain_lat += cycle_lat
            cores.append(split(gw, WALL))
            WALL.clear()
            wait_until(lambda: all(a in watch.acked for a, _ in during), 60)
            drain_ack += latencies(watch, during, "acked")
            cycles.append({"backlog_posted": n, "fill_s": round(fill_s, 1), "max_depth_seen": watch.max_depth,
                           "reconnect_s": round(reconnect_s, 2), "drain_s": round(drain_s, 1),
                           "presses": len(during), "press_to_broker": stats(cycle_lat),
                           # Other work on the machine (a shared 2-core box): the 1-minute load.
                           "loadavg_1m": float(open("/proc/loadavg").read().split()[0])})
            print("drain cycle %d: %s" % (c + 1, json.dumps(cycles[-1])), flush=True)
        watch.stop()
        idle_fig = stats(idle_lat, len(idle) - len(idle_lat))
        idle_fig["press_to_core_p50"] = idle_core
        drain_fig = stats(drain_lat)
        drain_fig["press_to_core_p50_per_cycle"] = cores
        return {"idle": idle_fig, "drain": drain_fig, "idle_press_to_acknowledged": stats(idle_ack),
                "drain_press_to_acknowledged": stats(drain_ack), "cycles": cycles,
                "press_429s_idle": idle_pushback, "press_429s_drain": sum(PUSHBACK),
                "interval_ms": args.interval_ms, "drain_interval_ms": args.drain_interval_ms,
                "drain_p99_over_idle_p99": round(drain_fig["p99"] / idle_fig["p99"], 2)
                if drain_fig.get("p99") and idle_fig.get("p99") else None}
    finally:
        gw.kill()
        broker.stop()


class Operator:
    """An automated duty operator: logged in to the board, reading its server-sent
    events, acknowledging every open alarm the first time it appears."""

    def __init__(self, port, user, password):
        self.port = port
        self.seen = {}  # alarm id -> monotonic time it first appeared on the board
        self.answers = {}
        self.errors = []
        self.lock = threading.Lock()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/login", body=json.dumps({"user": user, "password": password}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("login answered %d" % r.status)
        self.cookie = r.getheader("Set-Cookie").split(";")[0]
        self.csrf = json.loads(body)["csrf"]
        self.ack_conn = c
        self.stream = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.stream.request("GET", "/events", headers={"Accept": "text/event-stream", "Cookie": self.cookie})
        self.resp = self.stream.getresponse()
        self.stopped = False
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        data = []
        try:
            while not self.stopped:
                line = self.resp.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif line == "" and data:
                    self.on_snapshot(json.loads("\n".join(data)))
                    data = []
        except Exception as e:  # noqa: BLE001 - reported with the figures
            if not self.stopped:
                self.errors.append(repr(e))

    def on_snapshot(self, snap):
        now = time.monotonic()
        for a in snap.get("alarms", []):
            if a["id"] in self.seen:
                continue
            self.seen[a["id"]] = now
            self.acknowledge(a)

    def acknowledge(self, a):
        body = json.dumps({"group": a["group_id"], "edge_node": a["edge_node_id"], "facility": a["facility_id"],
                           "alarm_id": a["id"]})
        self.ack_conn.request("POST", "/api/alarms/acknowledge", body=body, headers={
            "Content-Type": "application/json", "Cookie": self.cookie, "X-CSRF-Token": self.csrf})
        r = self.ack_conn.getresponse()
        r.read()
        self.answers[a["id"]] = r.status

    def stop(self):
        self.stopped = True
        try:
            self.stream.close()
        except OSError:
            pass


def run_roundtrip(args, pb, build):
    from gateway import Gateway  # noqa: E402
    from postgres import Postgres  # noqa: E402
    from town_host import TownHost  # noqa: E402
    import subprocess
    os.environ.setdefault("HOST_BIN", os.path.join(build, "host", "community-host"))
    work = tempfile.mkdtemp(prefix="alarm-roundtrip-")
    broker = Mosquitto(work, extra_conf=["max_queued_messages 100000"])
    broker.port = free_port()
    broker.start()
    pg = Postgres(work)
    pg.start()
    user, password = "duty", "bench-Operator-1"
    line = subprocess.run([os.environ["HOST_BIN"], "hash-password", user], input=password + "\n",
                          capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    users = os.path.join(work, "operators")
    with open(users, "w") as f:
        f.write(line + "\n")
    host = TownHost(work, broker, pg, [GROUP], board_keys={"users_file": users})
    host.start()
    http_port = free_port()
    gw = Gateway(work, gateway_config(work, http_port, primary_host_id=host.host_id), [broker.uri])
    op = None
    try:
        host.wait_log(r"STATE online published", 60)
        gw.start()
        gw.wait_log(r"uplink: primary host \S+ is online", 30)
        gw.wait_log(r"http ingest: POST", 30)
        announce_buttons(http_port)
        watch = Watcher(broker.port, pb.Payload, auto_ack=False)
        op = Operator(host.board_port, user, password)
        sent = presses(http_port, 0, args.roundtrip_presses, args.roundtrip_interval_ms)
        wall = dict(WALL)
        WALL.clear()
        ok = wait_until(lambda: all(a in watch.acked for a, _ in sent), 120)
        rows = {}
        for r in pg.psql("SELECT alarm_id, (extract(epoch FROM first_seen_at) * 1000)::bigint FROM alarms").split():
            a, ms = r.split("|")
            rows[a] = int(ms)
        host_row = [rows[a] - wall[a] for a, _ in sent if a in rows]
        with op.lock:
            board = [(op.seen[a] - t) * 1000.0 for a, t in sent if a in op.seen]
        return {"presses": len(sent), "interval_ms": args.roundtrip_interval_ms, "all_acknowledged": bool(ok),
                "press_to_host_row": stats(host_row, len(sent) - len(host_row)),
                "press_to_operator_board": stats(board, len(sent) - len(board)),
                "press_to_dcmd": stats(latencies(watch, sent, "dcmds")),
                "press_to_acknowledged_row": stats(latencies(watch, sent, "acked")),
                "operator_answers": {str(k): sum(1 for v in op.answers.values() if v == k)
                                     for k in set(op.answers.values())},
                "operator_errors": op.errors[:3],
                "host_dcmds_total": host.metric("community_host_alarm_acknowledge_dcmds_total")}
    finally:
        if op:
            op.stop()
        gw.kill()
        host.kill()
        broker.stop()
        pg.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--mode", choices=("all", "drain", "roundtrip"), default="all")
    ap.add_argument("--backlog", type=int, default=1000000)
    ap.add_argument("--cycles", type=int, default=3, help="outage + backlog + drain, repeated")
    ap.add_argument("--presses", type=int, default=100, help="idle presses")
    ap.add_argument("--interval-ms", type=int, default=100, help="between idle presses")
    ap.add_argument("--drain-interval-ms", type=int, default=100, help="between presses while draining")
    ap.add_argument("--roundtrip-presses", type=int, default=100)
    ap.add_argument("--roundtrip-interval-ms", type=int, default=200)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("GATEWAY_BIN", os.path.join(build, "gateway", "community-gateway"))
    sys.path.insert(0, os.path.join(build, "py"))
    import sparkplug_b_pb2 as pb  # noqa: E402
    result = {}
    if args.mode in ("all", "roundtrip"):
        result["roundtrip"] = run_roundtrip(args, pb, build)
        print(json.dumps(result["roundtrip"], indent=1), flush=True)
    if args.mode in ("all", "drain"):
        result["drain"] = run_drain(args, pb)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
