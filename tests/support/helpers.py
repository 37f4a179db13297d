"""Helpers shared by the integration tests: ports, polling, the simulator's sample grid,
the raw metrics a configured sensor produces, and a small YAML writer.

Everything here is pure Python with no third-party module, so the suite runs on the
system python3 with only python3-paho-mqtt, python3-protobuf and python3-pytest.
"""

import datetime
import json
import os
import socket
import time
import zoneinfo

# Sparkplug B DataType numbers.
INT8, INT16, INT32, INT64 = 1, 2, 3, 4
UINT8, UINT16, UINT32, UINT64 = 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING = 9, 10, 11, 12
DATETIME, TEXT = 13, 14

OCPP_STATUSES = {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                 "Finishing", "Reserved", "Unavailable", "Faulted"}


def free_port():
    """An ephemeral loopback port that was free a moment ago (bind to 0, then close)."""
    last = None
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
        except OSError as e:  # pragma: no cover - only under port exhaustion
            last = e
        finally:
            s.close()
    raise RuntimeError("no free port: %s" % last)


def wait_until(fn, timeout, interval=0.05):
    """Polls fn() until it returns something truthy or the deadline passes; returns the
    last value. For conditions with no notification (a TCP port, a process, a file)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# -- the simulator's grid ------------------------------------------------------------

def local_ms(local, tz="Asia/Shanghai"):
    """UTC epoch ms of a local "YYYY-MM-DDTHH:MM" in zone tz."""
    dt = datetime.datetime.strptime(local, "%Y-%m-%dT%H:%M").replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return int(dt.timestamp() * 1000)


def local_day(ts_ms, tz="Asia/Shanghai"):
    return datetime.datetime.fromtimestamp(ts_ms / 1000.0, zoneinfo.ZoneInfo(tz)).date()


def grid(start_local, interval_s, n, tz="Asia/Shanghai"):
    """Timestamps of samples 0..n-1: start + k * interval."""
    start = local_ms(start_local, tz)
    step = int(round(interval_s * 1000))
    return [start + k * step for k in range(n)]


def raw_points(sensor):
    """{point: datatype} of the raw points a simulated sensor reports every sample."""
    kind = sensor["kind"]
    if kind == "door_counter":
        return {"entries_total": UINT64, "exits_total": UINT64}
    if kind == "meal_terminal":
        return {"meals_total": UINT64}
    if kind == "checkin_terminal":
        return {"checkins_total": UINT64}
    if kind == "occupancy":
        return {"occupancy": UINT32}
    if kind == "seat":
        return {"occupied": BOOLEAN}
    if kind == "equipment":
        return {"in_use": BOOLEAN}
    if kind == "charge_point":
        out = {}
        for n in range(1, int(sensor["connectors"]) + 1):
            out["connector/%d/status" % n] = STRING
            out["connector/%d/power_kw" % n] = FLOAT
            out["connector/%d/energy_kwh" % n] = DOUBLE
        return out
    if kind == "feedback_terminal":  # the simulator's: a counter per button
        names = [b["name"] for b in sensor.get("buttons", [])] or ["very_unhappy", "unhappy", "happy", "very_happy"]
        return {"button/%s_total" % n: UINT64 for n in names}
    raise ValueError("unknown sensor kind %r" % kind)


def raw_metrics(facilities):
    """{(device, metric name): datatype} for every raw sensor point of the config."""
    out = {}
    for f in facilities:
        for s in f.get("sensors", []):
            for point, dt in raw_points(s).items():
                out[(f["id"], "sensors/%s/%s" % (s["id"], point))] = dt
    return out


def door_fed_metrics(facilities):
    """{(device, name): datatype} of the derived metrics that a door counter feeds once
    per sample, at the sample's timestamp."""
    out = {}
    for f in facilities:
        if any(s["kind"] == "door_counter" for s in f.get("sensors", [])):
            out[(f["id"], "occupancy/current")] = UINT32
            out[(f["id"], "occupancy/ratio")] = FLOAT
            out[(f["id"], "visits/entries")] = UINT64
    return out


# -- config --------------------------------------------------------------------------

def base_config(group, edge, data_dir, facilities, *, start="2024-03-04T08:00", interval_s=60,
                speed=600, max_samples=300, seed=7, uplink=None, buffer=None, gateway=None):
    cfg = {
        "gateway": {"group_id": group, "edge_node_id": edge, "data_dir": str(data_dir),
                    "timezone": "Asia/Shanghai"},
        "buffer": {"commit_interval_ms": 20},
        "uplink": {"brokers": ["tcp://127.0.0.1:1"], "qos": 1,
                   "reconnect": {"min_ms": 200, "max_ms": 1000},
                   "node_metrics_interval_s": 1},
        "simulator": {"enabled": True, "seed": seed, "speed": speed, "interval_s": interval_s,
                      "dropout_probability": 0, "start": start, "max_samples": max_samples},
        "facilities": facilities,
    }
    if uplink:
        cfg["uplink"].update(uplink)
    if buffer:
        cfg["buffer"].update(buffer)
    if gateway:
        cfg["gateway"].update(gateway)
    return cfg


def to_yaml(value, indent=0):
    """A block-style YAML document for dicts, lists and scalars (strings JSON-quoted,
    which YAML reads as double-quoted scalars)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 1))
            else:
                lines.append("%s%s: %s" % (pad, k, _scalar(v)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub = to_yaml(item, indent + 1).split("\n")
                first = sub[0][len("  " * (indent + 1)):]
                lines.append("%s- %s" % (pad, first))
                lines.extend(sub[1:])
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)


# -- summaries -----------------------------------------------------------------------

def count_pairs(readings_by_metric, expected_ts, keys):
    """For metrics in keys: (expected, received distinct, duplicates, missing {key: [ts]}).
    readings_by_metric: {(device, name): [metric dict, ...]}."""
    expected = received = dups = 0
    missing = {}
    want = set(expected_ts)
    for key in keys:
        seen = {}
        for m in readings_by_metric.get(key, []):
            seen[m["timestamp"]] = seen.get(m["timestamp"], 0) + 1
        expected += len(want)
        received += len(want & set(seen))
        dups += sum(c - 1 for t, c in seen.items() if t in want)
        miss = sorted(want - set(seen))
        if miss:
            missing[key] = miss
    return expected, received, dups, missing


def print_summary(title, **counts):
    """Prints the figures of a test run; with GATEWAY_SUMMARY_FILE set, also appends them
    as one JSON line there (scripts/reliability-report.py builds docs/reliability.md
    from those lines)."""
    print("SUMMARY %s: %s" % (title, ", ".join("%s=%s" % kv for kv in counts.items())))
    path = os.environ.get("GATEWAY_SUMMARY_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"title": title, "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                                "counts": counts}, default=str) + "\n")


def source_dir():
    """The repository root: GATEWAY_SOURCE_DIR, or two levels above tests/support."""
    return os.environ.get("GATEWAY_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
