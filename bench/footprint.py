#!/usr/bin/env python3
"""Footprint of the whole gateway process on a board-like load: peak RSS, CPU share,
bytes written to disk per reading, start-up time. Runs the real binary with the
simulator against its own mosquitto on a free loopback port.

  bench/footprint.py BINARY [--rate 100 --rate 1000] [--seconds 30] [--prefix "qemu-aarch64 -L SYSROOT"]

The load: 5 facilities with 10 door counters each (100 raw readings per sample), the
simulator at RATE/100 samples per second, QoS 1, the shipped buffer defaults
(synchronous: full, commit_interval_ms: 20). The status server is on, as on a board.
Figures are of the gateway process only (with --prefix, of the emulator running it).
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from helpers import to_yaml, wait_until  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402


def config(data_dir, rate):
    facilities = []
    for f in range(5):
        facilities.append({"id": "fac-%d" % f, "type": "canteen", "capacity": 200,
                           "sensors": [{"id": "door-%d" % s, "kind": "door_counter"} for s in range(10)]})
    samples_per_s = rate / 100.0
    return {
        "gateway": {"group_id": "bench", "edge_node_id": "footprint", "data_dir": data_dir},
        "uplink": {"brokers": ["tcp://127.0.0.1:1"], "qos": 1},
        "simulator": {"enabled": True, "seed": 1, "interval_s": 60, "speed": 60 * samples_per_s,
                      "dropout_probability": 0, "start": "2024-03-04T11:00"},
        "web": {"enabled": True, "address": "127.0.0.1", "port": 0},
        "facilities": facilities,
    }


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def proc_io(pid):
    out = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return out


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


def run(binary, prefix, rate, seconds, work):
    broker = Mosquitto(work, name="mosquitto-%d" % rate)
    broker.start()
    data = os.path.join(work, "data-%d" % rate)
    os.makedirs(data, exist_ok=True)
    cfg_path = os.path.join(work, "config-%d.yaml" % rate)
    with open(cfg_path, "w") as f:
        f.write(to_yaml(config(data, rate)) + "\n")
    log_path = os.path.join(work, "gateway-%d.log" % rate)
    notify = os.path.join(work, "notify-%d.sock" % rate)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify)
    sock.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    cmd = prefix + [binary, "run", "--config", cfg_path, "--broker", broker.uri]
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while b"READY=1" not in sock.recv(4096):
            pass
        startup = time.monotonic() - t0
        m = wait_until(lambda: re.search(r"web: listening on http://[^ ]*:(\d+)/", open(log_path).read()), 30)
        port = int(m.group(1))
        time.sleep(3)  # past the first births and the initial state commit
        cpu0, io0, wall0 = proc_stat(proc.pid), proc_io(proc.pid), time.monotonic()
        acc0 = metric(port, "gateway_readings_accepted_total")
        der0 = metric(port, "gateway_readings_derived_total")
        time.sleep(seconds)
        cpu1, io1, wall1 = proc_stat(proc.pid), proc_io(proc.pid), time.monotonic()
        acc1 = metric(port, "gateway_readings_accepted_total")
        der1 = metric(port, "gateway_readings_derived_total")
        published = metric(port, "gateway_readings_published_total")
        depth = metric(port, "gateway_buffer_readings")
        hwm = proc_status(proc.pid, "VmHWM")
        rss = proc_status(proc.pid, "VmRSS")
    finally:
        proc.terminate()
        proc.wait(30)
        broker.stop()
        sock.close()
    accepted = acc1 - acc0
    rows = accepted + (der1 - der0)
    written = io1["write_bytes"] - io0["write_bytes"]
    return {
        "rate_target": rate,
        "raw_readings_per_s": round(accepted / (wall1 - wall0), 1),
        "rows_per_s_incl_derived": round(rows / (wall1 - wall0), 1),
        "cpu_share_percent_of_one_core": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 2),
        "peak_rss_mb": round(hwm / 1e6, 2),
        "rss_mb_at_end": round(rss / 1e6, 2),
        "disk_write_bytes_per_s": round(written / (wall1 - wall0)),
        "disk_bytes_per_raw_reading": round(written / accepted, 1) if accepted else None,
        "syscall_write_bytes_per_raw_reading": round((io1["wchar"] - io0["wchar"]) / accepted, 1) if accepted else None,
        "startup_to_ready_s": round(startup, 3),
        "buffer_depth_at_end": depth,
        "published_total": published,
        "seconds": round(wall1 - wall0, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rate", type=int, action="append")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--prefix", default="")
    args = ap.parse_args()
    prefix = args.prefix.split() if args.prefix else []
    with tempfile.TemporaryDirectory() as work:
        for rate in args.rate or [100, 1000]:
            print(json.dumps(run(os.path.abspath(args.binary), prefix, rate, args.seconds, work)), flush=True)


if __name__ == "__main__":
    main()
