#!/usr/bin/env python3
"""Flash wear: disk bytes the real gateway binary writes per raw reading and per day at
reference facility loads fed through HTTP ingest, with where the bytes go.

  bench/flash.py BINARY [--old OLD_BINARY] [--load door ...] [--seconds 60] [--set buffer.KEY=VALUE ...]

With --old, every load runs on both binaries in turn (old first), in the same run, so
the two columns are measured under the same conditions.

The reference loads (real rates; each reading is one POST's entry, ts = time of posting):
  door      one door counter (a canteen's entrance) posting its two cumulative counters
            (entries_total, exits_total) in one request every 1 s: 2 raw readings/s.
  canteen   an elderly canteen with 4 sensors: 2 door counters (2 points each) and an
            occupancy camera, each posting every 5 s (staggered by 1.25 s), and the meal
            terminal posting meals_total at every meal served, one every 20 s (180 an
            hour, a busy lunch) besides its own 5 s report: 1.2 raw readings/s.
  r100      5 facilities x 10 door counters; each facility's aggregator posts its 10
            counters (20 readings) once a second: 100 raw readings/s in 5 requests/s.
  r1000     the same with 50 facilities: 1,000 raw readings/s in 50 requests/s.

Figures (over --seconds after a 5 s warm-up; the gateway's own mosquitto on a free
loopback port, QoS 1, the status server on for /metrics):
  write_bytes of /proc/PID/io (what the process sent to the block layer), per raw
  reading and per day at that rate; commits per request (a commit that only deletes
  acknowledged rows shows as more than 1);
  the breakdown: every WAL frame SQLite appended (the -wal file read every 20 ms, frames
  told apart by their salts), by the table or index that owns its page (dbstat at the
  end: overflow pages count to their table, page 1 to sqlite_schema, freelist pages
  as "free or reused"); what is left of write_bytes is the checkpoints (pages copied
  back into buffer.db), buffer.mark, and the rounding of frames to the filesystem's
  4 KiB blocks (a fsynced commit writes whole blocks).
"""

import argparse
import http.client
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from helpers import free_port, to_yaml, wait_until  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402

TOKEN = "flash-bench-token"


def door_counters(n, prefix="door"):
    return [{"id": "%s-%d" % (prefix, i), "kind": "door_counter", "driver": "http"} for i in range(n)]


def load(name):
    """(facilities, schedule): schedule is a list of (period_s, offset_s, facility, [(sensor, point)])."""
    if name == "door":
        fac = [{"id": "canteen-1", "type": "canteen", "capacity": 80, "sensors": door_counters(1)}]
        return fac, [(1.0, 0.0, "canteen-1", [("door-0", "entries_total"), ("door-0", "exits_total")])]
    if name == "canteen":
        sensors = door_counters(2) + [{"id": "cam-1", "kind": "occupancy", "driver": "http"},
                                      {"id": "meal-1", "kind": "meal_terminal", "driver": "http"}]
        fac = [{"id": "canteen-1", "type": "canteen", "capacity": 80, "sensors": sensors}]
        return fac, [(5.0, 0.0, "canteen-1", [("door-0", "entries_total"), ("door-0", "exits_total")]),
                     (5.0, 1.25, "canteen-1", [("door-1", "entries_total"), ("door-1", "exits_total")]),
                     (5.0, 2.5, "canteen-1", [("cam-1", "occupancy")]),
                     (5.0, 3.75, "canteen-1", [("meal-1", "meals_total")]),
                     (20.0, 0.6, "canteen-1", [("meal-1", "meals_total")])]
    m = re.fullmatch(r"r(\d+)", name)
    if m:
        n_fac = max(1, int(m.group(1)) // 20)
        fac, sched = [], []
        for f in range(n_fac):
            fid = "fac-%d" % f
            fac.append({"id": fid, "type": "canteen", "capacity": 200, "sensors": door_counters(10)})
            points = [("door-%d" % s, p) for s in range(10) for p in ("entries_total", "exits_total")]
            sched.append((1.0, f / n_fac, fid, points))
        return fac, sched
    raise SystemExit("unknown load " + name)


def set_path(cfg, dotted, value):
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    try:
        value = json.loads(value)
    except ValueError:
        pass
    node[keys[-1]] = value


def config(data_dir, facilities, http_port, overrides):
    cfg = {
        "gateway": {"group_id": "bench", "edge_node_id": "flash", "data_dir": data_dir},
        "uplink": {"brokers": ["tcp://127.0.0.1:1"], "qos": 1},
        "simulator": {"enabled": False},
        "web": {"enabled": True, "address": "127.0.0.1", "port": 0},
        "drivers": {"http": {"enabled": True, "port": http_port, "token": TOKEN, "max_connections": 200}},
        "facilities": facilities,
    }
    for o in overrides:
        k, v = o.split("=", 1)
        set_path(cfg, k, v)
    return cfg


def proc_io(pid):
    with open("/proc/%d/io" % pid) as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


class WalTracer(threading.Thread):
    """Reads the -wal file every 20 ms and keeps every frame appended while `counting`.

    A frame is (salt1, salt2, index): the salts change when SQLite restarts the log
    after a checkpoint, so a frame overwritten later is still counted once."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.frames = {}  # (salt1, salt2, index) -> (pgno, is_commit)
        self.counting = False
        self.page_size = 0
        self.stop = threading.Event()

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return
        if len(data) < 32:
            return
        magic, _, page_size, _, salt1, salt2 = struct.unpack(">IIIIII", data[:24])
        if magic not in (0x377F0682, 0x377F0683) or page_size == 0:
            return
        self.page_size = page_size
        step = 24 + page_size
        i = 0
        while 32 + (i + 1) * step <= len(data):
            off = 32 + i * step
            pgno, commit, s1, s2 = struct.unpack(">IIII", data[off:off + 16])
            if (s1, s2) != (salt1, salt2):
                break  # older frames of a previous generation of the log: not this one's
            if self.counting:
                self.frames.setdefault((s1, s2, i), (pgno, commit != 0))
            else:
                self.frames.pop((s1, s2, i), None)
            i += 1

    def run(self):
        while not self.stop.is_set():
            self.poll()
            time.sleep(0.02)

    def breakdown(self, owners):
        by_owner, commits = {}, 0
        for pgno, commit in self.frames.values():
            name = owners.get(pgno, "free or reused pages")
            by_owner[name] = by_owner.get(name, 0) + 1
            commits += commit
        return len(self.frames), by_owner, commits


def page_owners(db_path):
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return {pgno: name for name, pgno in con.execute("SELECT name, pageno FROM dbstat")}
    finally:
        con.close()


class Poster:
    """Posts the schedule's requests at their times over keep-alive connections."""

    def __init__(self, port, schedule):
        self.port = port
        self.schedule = schedule
        self.counters = {}
        self.errors = 0
        self.requests = 0
        self.readings = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def body(self, facility, points, t_ms):
        readings = []
        for sensor, point in points:
            key = (facility, sensor, point)
            # Cumulative counters that move like a door's: a person now and then.
            self.counters[key] = self.counters.get(key, 0) + (1 if (t_ms // 1000 + hash(key)) % 3 == 0 else 0)
            value = self.counters[key] if point != "occupancy" else 10 + (t_ms // 5000) % 20
            readings.append({"sensor": sensor, "point": point, "value": value, "ts": t_ms})
        return json.dumps({"facility": facility, "readings": readings})

    def stream(self, period, offset, facility, points):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        t0 = self.t0
        n = 0
        while not self.stop.is_set():
            due = t0 + offset + n * period
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            n += 1
            body = self.body(facility, points, int(time.time() * 1000))
            try:
                conn.request("POST", "/api/v1/readings", body,
                             {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 202
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                ok = False
            with self.lock:
                self.requests += 1
                if ok:
                    self.readings += len(points)
                else:
                    self.errors += 1
        conn.close()

    def start(self):
        self.t0 = time.monotonic() + 0.2
        self.threads = [threading.Thread(target=self.stream, args=s, daemon=True) for s in self.schedule]
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def run(binary, name, seconds, work, overrides, tag):
    facilities, schedule = load(name)
    broker = Mosquitto(work, name="mosquitto-%s-%s" % (tag, name))
    broker.start()
    data = os.path.join(work, "data-%s-%s" % (tag, name))
    os.makedirs(data)
    http_port = free_port()
    cfg_path = os.path.join(work, "config-%s-%s.yaml" % (tag, name))
    with open(cfg_path, "w") as f:
        f.write(to_yaml(config(data, facilities, http_port, overrides)) + "\n")
    log_path = os.path.join(work, "gateway-%s-%s.log" % (tag, name))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "run", "--config", cfg_path, "--broker", broker.uri],
                                stdout=log, stderr=subprocess.STDOUT)
    tracer = WalTracer(os.path.join(data, "buffer.db-wal"))
    poster = Poster(http_port, schedule)
    try:
        m = wait_until(lambda: re.search(r"web: listening on http://[^ ]*:(\d+)/", open(log_path).read()), 30)
        web_port = int(m.group(1))
        wait_until(lambda: "http ingest: POST" in open(log_path).read(), 30)
        tracer.start()
        poster.start()
        time.sleep(5)  # warm-up: births, the first state commit, the first checkpoint sizes
        tracer.poll()
        tracer.counting = True
        io0, wall0 = proc_io(proc.pid), time.monotonic()
        acc0 = metric(web_port, "gateway_readings_accepted_total")
        com0 = metric(web_port, "gateway_commits_total")
        req0 = poster.requests
        time.sleep(seconds)
        io1, wall1 = proc_io(proc.pid), time.monotonic()
        tracer.stop.set()
        tracer.join()
        tracer.poll()  # the last frames, and no poll after this forgets any
        acc1 = metric(web_port, "gateway_readings_accepted_total")
        com1 = metric(web_port, "gateway_commits_total")
        req1 = poster.requests
        depth = metric(web_port, "gateway_buffer_readings")
        owners = page_owners(os.path.join(data, "buffer.db"))
    finally:
        poster.join()
        tracer.stop.set()
        proc.terminate()
        proc.wait(30)
        broker.stop()
    wall = wall1 - wall0
    accepted = acc1 - acc0
    written = io1["write_bytes"] - io0["write_bytes"]
    frames, by_owner, wal_commits = tracer.breakdown(owners)
    per = (lambda b: round(b / accepted, 1)) if accepted else (lambda b: None)
    frame_bytes = tracer.page_size + 24
    return {
        "binary": tag,
        "load": name,
        "seconds": round(wall, 1),
        "raw_readings_per_s": round(accepted / wall, 2),
        "requests_per_s": round((req1 - req0) / wall, 2),
        "post_errors": poster.errors,
        "disk_bytes_per_raw_reading": per(written),
        "disk_bytes_per_day": round(written / wall * 86400),
        "commits_per_request": round((com1 - com0) / (req1 - req0), 2) if req1 > req0 else None,
        "page_size": tracer.page_size,
        "wal_frames_per_commit": round(frames / wal_commits, 2) if wal_commits else None,
        "breakdown_bytes_per_raw_reading": {
            "wal_frames_by_owner": {k: per(v * frame_bytes) for k, v in sorted(by_owner.items(), key=lambda kv: -kv[1])},
            "wal_frames_total": per(frames * frame_bytes),
            "checkpoints_mark_and_block_rounding": per(written - frames * frame_bytes),
        },
        "buffer_depth_at_end": depth,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--old", help="a second binary (main's) measured in the same run, before the first")
    ap.add_argument("--load", action="append", help="door, canteen, r100, r1000 (default: all)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--set", action="append", default=[], help="config override, e.g. buffer.synchronous=normal")
    args = ap.parse_args()
    binaries = ([("old", os.path.abspath(args.old))] if args.old else []) + [("new", os.path.abspath(args.binary))]
    with tempfile.TemporaryDirectory() as work:
        for name in args.load or ["door", "canteen", "r100", "r1000"]:
            for tag, binary in binaries:
                print(json.dumps(run(binary, name, args.seconds, work, args.set, tag)), flush=True)


if __name__ == "__main__":
    main()
