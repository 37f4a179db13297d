#!/usr/bin/python3
"""Soak: the simulator at high speed through a real gateway and a real mosquitto for a
long time (an hour by default) while faults are injected at random, then a count of what
arrived. Not part of the test suite; the figures go into bench/RESULTS.md.

    bench/soak.py --build build --minutes 60 [--seed N] [--out DIR]

Faults, one at a time after 20-60 s of quiet each: the gateway killed with SIGKILL (a
power cut) and started again, the gateway stopped with SIGTERM and started again, the
uplink cut (every connection closed and new ones refused for 5-40 s), and the uplink
stalled (nothing forwarded, nothing closed, for 10-60 s: a half-open link). The link
faults come from a TCP proxy between the gateway and the broker (tests/support/
fault_proxy.py), so the broker and the counting subscriber never lose anything
themselves: every missing reading is the gateway's.

The simulator samples a fixed grid (one sample per simulated minute, every raw point of
every sensor), and resumes it after a restart, so "accepted" is the grid: samples times
raw points. The subscriber counts each (metric, timestamp) on the grid: delivered =
distinct ones that arrived, duplicates = arrivals beyond the first, dropped = never
arrived by the end (after a final wait for the backlog to drain). RSS of the gateway is
sampled every 5 s.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))

FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "Elderly canteen", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"},
                 {"id": "seat-1", "kind": "seat"}, {"id": "seat-2", "kind": "seat"}]},
    {"id": "station-2", "type": "elderly_station", "name": "Day-care centre", "capacity": 40,
     "sensors": [{"id": "door-2", "kind": "door_counter"}, {"id": "checkin-2", "kind": "checkin_terminal"},
                 {"id": "room-2", "kind": "occupancy"}]},
    {"id": "fit-3", "type": "fitness_point", "name": "Sports park", "capacity": 25,
     "sensors": [{"id": "gate-3", "kind": "door_counter"}, {"id": "bike-3", "kind": "equipment"}]},
    {"id": "charge-4", "type": "charging_station", "name": "Public car park", "capacity": 4,
     "sensors": [{"id": "ac-4", "kind": "charge_point", "connectors": 2, "max_power_kw": 7},
                 {"id": "dc-4", "kind": "charge_point", "connectors": 2, "max_power_kw": 60}]},
]
START, INTERVAL_S = "2024-06-03T00:00", 60


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class GridCounter:
    """Counts arrivals of each raw metric at each grid index, without keeping messages."""

    def __init__(self, keys, start_ms, step_ms, n):
        self.start_ms, self.step_ms, self.n = start_ms, step_ms, n
        self.counts = {k: bytearray(n) for k in keys}
        self.off_grid = 0
        self.beyond = 0  # on the grid's step but past its end
        self.messages = 0
        self.undecodable = 0
        self.lock = threading.Lock()

    def on_message(self, client, userdata, msg):
        from sparkplug import Message
        m = Message(0, msg.topic, msg.payload, msg.retain)
        with self.lock:
            self.messages += 1
            if m.error:
                self.undecodable += 1
                return
            if m.type != "DDATA":
                return
            for metric in m.metrics:
                row = self.counts.get((m.device, metric["name"]))
                if row is None:
                    continue
                k, rem = divmod(metric["timestamp"] - self.start_ms, self.step_ms)
                if rem or k < 0:
                    self.off_grid += 1
                    continue
                if k >= self.n:
                    self.beyond += 1
                    continue
                if row[k] < 255:
                    row[k] += 1

    def totals(self):
        with self.lock:
            expected = delivered = dups = 0
            first_missing = {}
            for key, row in self.counts.items():
                expected += len(row)
                got = len(row) - row.count(0)
                delivered += got
                dups += sum(row) - got
                if got < len(row):
                    first_missing["%s %s" % key] = row.index(0)
            return expected, delivered, dups, first_missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="the CMake build directory")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--samples-per-s", type=int, default=20, help="simulated samples per second")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=None, help="where the timeline CSV and summary JSON go")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    os.environ.setdefault("GATEWAY_BIN", os.path.join(build, "gateway", "community-gateway"))
    sys.path.insert(0, os.path.join(build, "py"))
    import paho.mqtt.client as mqtt
    from fault_proxy import FaultProxy
    from gateway import Gateway
    from helpers import base_config, grid, raw_metrics
    from mosquitto import Mosquitto

    seed = args.seed if args.seed is not None else time.time_ns() % 1000000
    rnd = random.Random(seed)
    speed = args.samples_per_s * INTERVAL_S
    n = int(args.minutes * 60 * args.samples_per_s)
    work = tempfile.mkdtemp(prefix="gateway-soak-")
    out = args.out or work
    os.makedirs(out, exist_ok=True)
    print("soak: seed %d, %.0f min, %d samples at %d/s, work dir %s" % (seed, args.minutes, n,
                                                                         args.samples_per_s, work))

    broker = Mosquitto(work, name="mosquitto")
    broker.start()
    proxy = FaultProxy(("127.0.0.1", broker.port))
    ts = grid(START, INTERVAL_S, n)
    counter = GridCounter(raw_metrics(FACILITIES), ts[0], INTERVAL_S * 1000, n)
    sub = mqtt.Client(client_id="soak-sub", clean_session=True, protocol=mqtt.MQTTv311)
    sub.max_inflight_messages_set(0)
    sub.on_connect = lambda c, u, f, rc: c.subscribe("spBv1.0/#", 1)
    sub.on_message = counter.on_message
    sub.connect("127.0.0.1", broker.port, keepalive=30)
    sub.loop_start()

    cfg = base_config("soak", "gw-soak", os.path.join(work, "data"), FACILITIES, start=START,
                      interval_s=INTERVAL_S, speed=speed, max_samples=n,
                      uplink={"keep_alive_s": 10, "ack_timeout_s": 15,
                              "reconnect": {"min_ms": 500, "max_ms": 5000}})
    gw = Gateway(work, cfg, [proxy.uri])
    gw.start()

    t0 = time.monotonic()
    timeline = []
    faults = []
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.wait(5.0):
            pid = gw.pid if gw.running() else None
            exp, got, dups, _ = counter.totals()
            timeline.append((round(time.monotonic() - t0, 1), rss_kb(pid) if pid else None, got, dups,
                             proxy.state))

    threading.Thread(target=sample, daemon=True).start()

    end = t0 + args.minutes * 60
    while time.monotonic() < end:
        quiet = rnd.uniform(20, 60)
        time.sleep(min(quiet, max(0.0, end - time.monotonic())))  # the schedule itself, not a wait
        if time.monotonic() >= end:
            break
        kind = rnd.choice(["kill", "term", "cut", "stall"])
        at = round(time.monotonic() - t0, 1)
        if kind == "kill":
            gw.kill()
            time.sleep(rnd.uniform(0, 3))  # power off for a moment
            gw.start()
            faults.append((at, "kill", None))
        elif kind == "term":
            rc = gw.terminate(timeout=30)
            gw.start()
            faults.append((at, "term", rc))
        else:
            dur = rnd.uniform(5, 40) if kind == "cut" else rnd.uniform(10, 60)
            (proxy.cut if kind == "cut" else proxy.stall)()
            time.sleep(min(dur, max(0.0, end - time.monotonic())))
            proxy.heal()
            faults.append((at, kind, round(dur, 1)))
        if not gw.running():
            faults.append((round(time.monotonic() - t0, 1), "gateway exited by itself", gw.exit_codes[-1:]))
            gw.start()
        print("soak: %6.0f s  fault %-5s  delivered %d" % (at, kind, counter.totals()[1]), flush=True)

    proxy.heal()
    # The backlog drains; dropped readings are those still missing after this.
    drain_t0 = time.monotonic()
    deadline = drain_t0 + 600
    while time.monotonic() < deadline:
        exp, got, dups, _ = counter.totals()
        if got == exp:
            break
        time.sleep(1.0)  # polling a counter that another thread fills
    drain_s = time.monotonic() - drain_t0
    stop_sampling.set()
    rc = gw.terminate(timeout=30)
    exp, got, dups, first_missing = counter.totals()
    sub.loop_stop()
    sub.disconnect()
    proxy.stop()
    broker.stop()

    rss = [r[1] for r in timeline if r[1]]
    summary = {
        "seed": seed, "minutes": args.minutes, "samples": n, "raw_points": len(counter.counts),
        "accepted": exp, "delivered": got, "duplicates": dups, "dropped": exp - got,
        "off_grid": counter.off_grid, "beyond_grid": counter.beyond, "undecodable": counter.undecodable,
        "faults": {k: sum(1 for f in faults if f[1] == k) for k in ("kill", "term", "cut", "stall")},
        "gateway_starts": gw.starts, "exit_codes": gw.exit_codes,
        "final_drain_s": round(drain_s, 1), "last_exit_rc": rc,
        "rss_kb_first": rss[0] if rss else None, "rss_kb_max": max(rss) if rss else None,
        "rss_kb_last": rss[-1] if rss else None,
        "first_missing": dict(list(first_missing.items())[:5]),
    }
    with open(os.path.join(out, "soak-timeline.csv"), "w") as f:
        f.write("t_s,rss_kb,delivered,duplicates,link\n")
        for row in timeline:
            f.write(",".join("" if v is None else str(v) for v in row) + "\n")
    with open(os.path.join(out, "soak-faults.json"), "w") as f:
        json.dump(faults, f)
    with open(os.path.join(out, "soak-summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    # RSS every 10 minutes, for RESULTS.md.
    marks = [r for r in timeline if r[1] and int(r[0]) % 600 < 5]
    print("soak: RSS over time (s: kB): " + ", ".join("%d: %d" % (r[0], r[1]) for r in marks))
    return 0 if got == exp and not counter.undecodable else 1


if __name__ == "__main__":
    sys.exit(main())
