#!/usr/bin/env python3
"""OCPP driver benchmark: 200 charge points connected at once, each sending MeterValues
every 10 s at a demo speed-up (every 100 ms: 100x), against the real binary with its own
mosquitto on a free loopback port. The charge points are ocpp-rpc RPCClients in one Node
process (bench/ocpp_load.js; run tests/ocpp/setup.sh first).

  bench/ocpp_bench.py BUILD/gateway/community-gateway [--count 200] [--interval-ms 100] [--seconds 30]

Reports MeterValues calls answered per second (each answered after its readings are
committed to the buffer), answer latency, readings accepted per second, and memory:
gateway RSS idle (listening, nobody connected), with COUNT connected and idle, and under
load; memory per connection = (RSS connected - RSS idle) / COUNT.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from helpers import free_port, to_yaml, wait_until  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=30)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ocpp-bench-")
    broker = Mosquitto(work, name="mosquitto")
    broker.start()
    port = free_port()
    per_fac = 20
    facilities = [{"id": "charging-%d" % f, "type": "charging_station", "name": "Bench %d" % f,
                   "sensors": [{"id": "BENCH-%03d" % i, "kind": "charge_point", "driver": "ocpp", "connectors": 1}
                               for i in range(f * per_fac, min(a.count, (f + 1) * per_fac))]}
                  for f in range((a.count + per_fac - 1) // per_fac)]
    cfg = {"gateway": {"group_id": "bench", "edge_node_id": "ocpp", "data_dir": os.path.join(work, "data")},
           "uplink": {"brokers": [broker.uri], "qos": 1},
           "facilities": facilities,
           "drivers": {"ocpp": {"enabled": True, "port": port, "max_calls_per_minute": 6000,
                                "id_tag_salt": "bench-salt-0123456789"}}}
    os.makedirs(cfg["gateway"]["data_dir"])
    cfg_path = os.path.join(work, "config.yaml")
    with open(cfg_path, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    log_path = os.path.join(work, "gateway.log")
    with open(log_path, "w") as log:
        gw = subprocess.Popen([a.binary, "run", "--config", cfg_path], stdout=log, stderr=subprocess.STDOUT)
    load = None
    try:
        wait_until(lambda: "ocpp: OCPP 1.6J at" in open(log_path).read(), 30)
        time.sleep(3)
        rss_idle = rss_kib(gw.pid)
        load = subprocess.Popen(["node", os.path.join(HERE, "ocpp_load.js"), "ws://127.0.0.1:%d/ocpp" % port,
                                 str(a.count), str(a.interval_ms), str(a.seconds)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        connected = json.loads(load.stdout.readline())
        time.sleep(3)
        rss_connected = rss_kib(gw.pid)
        load.stdin.write("go\n")
        load.stdin.flush()
        peak = 0
        t_end = time.monotonic() + a.seconds
        while time.monotonic() < t_end:
            peak = max(peak, rss_kib(gw.pid))
            time.sleep(1)
        result = json.loads(load.stdout.readline())
        load.wait(30)
    finally:
        if load and load.poll() is None:
            load.kill()
        gw.terminate()
        gw.wait(30)
        broker.stop()
    stats = [l for l in open(log_path) if "ocpp: " in l and "connections," in l]
    out = {
        "charge_points": connected["connected"], "connect_s": connected["connect_s"],
        "meter_values_per_s": round(result["calls"] / result["seconds"], 1),
        "errors": result["errors"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
        "readings_per_s": round(result["calls"] * 2 / result["seconds"], 1),
        "rss_idle_mib": round(rss_idle / 1024, 1), "rss_connected_mib": round(rss_connected / 1024, 1),
        "rss_peak_under_load_mib": round(peak / 1024, 1),
        "kib_per_connection": round((rss_connected - rss_idle) / max(1, connected["connected"]), 1),
        "gateway_summary": stats[-1].strip() if stats else "",
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
