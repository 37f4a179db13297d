#!/usr/bin/python3
"""Wire bytes per raw reading with the demo config, for each uplink setting.

Runs the built gateway on config/demo.yaml (its facilities, sensors and simulator seed;
dropouts off, a faster clock and a fixed number of samples) against a real mosquitto on
a loopback port, with a subscriber counting the DDATA payload bytes. A raw reading is
one `sensors/{sensor}/{point}` metric other than `online` (what a sensor reported); the
figure is DDATA payload bytes / raw readings, so the derived metrics each reading
brings along are counted in. All settings run one after the other in one invocation.

  /usr/bin/python3 bench/wire_bytes.py --binary build/gateway/community-gateway [--samples 200]
"""

import argparse
import os
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
os.environ.setdefault("GATEWAY_PY_PROTO_DIR", os.path.join(HERE, "..", "build", "py"))
sys.path.insert(0, os.environ["GATEWAY_PY_PROTO_DIR"])

from gateway import Gateway  # noqa: E402
from helpers import raw_metrics  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402
from sparkplug import SparkplugSubscriber  # noqa: E402

SETTINGS = [("names (aliases: false), spec", {"aliases": False, "encoding": "spec"}),
            ("aliases (default), spec", {"aliases": True, "encoding": "spec"}),
            ("aliases, tahu", {"aliases": True, "encoding": "tahu"})]


def is_raw(name):
    return name and name.startswith("sensors/") and not name.endswith("/online")


def run(work, demo, uplink, samples):
    broker = Mosquitto(work, name="mosquitto")
    broker.start()
    sub = SparkplugSubscriber(broker.host, broker.port).start()
    cfg = dict(demo)
    cfg["gateway"] = dict(demo["gateway"], data_dir=os.path.join(work, "data"))
    cfg["uplink"] = dict(demo["uplink"], brokers=[broker.uri], **uplink)
    cfg["simulator"] = dict(demo["simulator"], speed=600, dropout_probability=0, max_samples=samples)
    want = samples * len(raw_metrics(demo["facilities"]))
    gw = Gateway(work, cfg, [broker.uri])
    gw.start()
    try:
        def raw_count(msgs):
            return sum(1 for m in msgs if m.type == "DDATA" for x in m.metrics if is_raw(x["name"]))
        sub.wait_for(lambda msgs: raw_count(msgs) >= want, 300, "%d raw readings" % want)
    finally:
        gw.terminate(timeout=30)
        sub.stop()
        broker.stop()
    msgs = sub.snapshot()
    ddata = [m for m in msgs if m.type == "DDATA"]
    metrics = sum(len(m.metrics) for m in ddata)
    nbytes = sum(len(m.raw) for m in ddata)
    raw = sum(1 for m in ddata for x in m.metrics if is_raw(x["name"]))
    return {"ddata": len(ddata), "metrics": metrics, "bytes": nbytes, "raw": raw}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    os.environ["GATEWAY_BIN"] = os.path.abspath(args.binary)
    with open(os.path.join(HERE, "..", "config", "demo.yaml"), encoding="utf-8") as f:
        demo = yaml.safe_load(f)
    print("| setting | DDATA | metrics per DDATA | bytes per metric | raw readings | bytes per raw reading |")
    print("|---|---|---|---|---|---|")
    for label, uplink in SETTINGS:
        with tempfile.TemporaryDirectory() as work:
            r = run(work, demo, uplink, args.samples)
        print("| %s | %d | %.1f | %.1f | %d | **%.1f** |" % (
            label, r["ddata"], r["metrics"] / r["ddata"], r["bytes"] / r["metrics"], r["raw"], r["bytes"] / r["raw"]))


if __name__ == "__main__":
    main()
