"""Checks of what the subscriber recorded against the wire contract, shared by the
integration tests. Each returns a list of problems (strings) so a test can print them
all before failing, rather than stopping at the first."""

import struct

from helpers import (BOOLEAN, OCPP_STATUSES, UINT64, door_fed_metrics, local_day,
                     raw_metrics)
from sparkplug import EXPECTED_FIELD


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_types(messages):
    """Every metric of every Sparkplug message has a name and its value in the oneof field
    its datatype calls for."""
    problems = []
    for msg in messages:
        if msg.type == "STATE" or msg.type is None:
            continue
        if msg.error:
            problems.append("%s: %s" % (msg.topic, msg.error))
        for m in msg.metrics:
            if not m["name"]:
                problems.append("%r: metric without a name (alias %s)" % (msg, m["alias"]))
            if msg.type in ("NBIRTH", "DBIRTH") and not m["wire_name"]:
                problems.append("%r: alias %s without its name in a birth" % (msg, m["alias"]))
            want = EXPECTED_FIELD.get(m["datatype"])
            if want is None:
                problems.append("%r: %s has unexpected datatype %s" % (msg, m["name"], m["datatype"]))
            elif m["field"] != want:
                problems.append("%r: %s datatype %d carries %s, not %s"
                                % (msg, m["name"], m["datatype"], m["field"], want))
            if msg.type in ("DDATA", "DBIRTH", "NDATA", "NBIRTH") and not m["has_timestamp"]:
                problems.append("%r: %s has no timestamp" % (msg, m["name"]))
    return problems


def check_raw_types(by_metric, facilities):
    """Raw sensor points carry the datatype of their kind."""
    problems = []
    expected = raw_metrics(facilities)
    expected.update(door_fed_metrics(facilities))
    for key, dt in expected.items():
        for m in by_metric.get(key, []):
            if m["datatype"] != dt:
                problems.append("%s/%s: datatype %d, want %d" % (key[0], key[1], m["datatype"], dt))
                break
    return problems


def check_births(messages, facilities):
    """Per session (from each NBIRTH): the NBIRTH carries the node metrics, a DBIRTH per
    facility follows before any DDATA of that facility, and every DDATA metric was
    announced with the same datatype in the latest DBIRTH of its device."""
    problems = []
    fac_ids = [f["id"] for f in facilities]
    birth = {}      # device -> {name: datatype}, of the current session
    in_session = False
    for msg in messages:
        if msg.type == "NBIRTH":
            in_session = True
            birth = {}
            names = {m["name"]: m for m in msg.metrics}
            for name, dt in (("bdSeq", UINT64), ("Node Control/Rebirth", BOOLEAN),
                             ("gateway/version", None), ("buffer/depth", None),
                             ("buffer/dropped", UINT64), ("uplink/reconnects", None)):
                if name not in names:
                    problems.append("%r lacks node metric %s" % (msg, name))
                elif dt is not None and names[name]["datatype"] != dt:
                    problems.append("%r: %s datatype %d, want %d" % (msg, name, names[name]["datatype"], dt))
            if "Node Control/Rebirth" in names and names["Node Control/Rebirth"]["value"] is not False:
                problems.append("%r: Node Control/Rebirth is not false" % msg)
        elif msg.type == "DBIRTH":
            if not in_session:
                problems.append("%r before any NBIRTH" % msg)
            birth[msg.device] = {m["name"]: m["datatype"] for m in msg.metrics}
        elif msg.type == "DDATA":
            if msg.device not in birth:
                problems.append("%r: DDATA before the DBIRTH of %s in this session" % (msg, msg.device))
                continue
            for m in msg.metrics:
                dt = birth[msg.device].get(m["name"])
                if dt is None:
                    problems.append("%r: %s not in the DBIRTH of %s" % (msg, m["name"], msg.device))
                elif dt != m["datatype"]:
                    problems.append("%r: %s datatype %d, DBIRTH said %d" % (msg, m["name"], m["datatype"], dt))
    # Every facility was born at least once, with its capacity.
    for f in facilities:
        dbirths = [m for m in messages if m.type == "DBIRTH" and m.device == f["id"]]
        if not dbirths:
            problems.append("no DBIRTH for facility %s" % f["id"])
            continue
        cap = dbirths[-1].metric("occupancy/capacity")
        if cap is None:
            problems.append("DBIRTH of %s lacks occupancy/capacity" % f["id"])
        elif "capacity" in f and cap["value"] != f["capacity"]:
            problems.append("DBIRTH of %s: occupancy/capacity %s != %s" % (f["id"], cap["value"], f["capacity"]))
    unknown = {m.device for m in messages if m.type in ("DBIRTH", "DDATA")} - set(fac_ids)
    if unknown:
        problems.append("devices not in the config: %s" % sorted(unknown))
    return problems


def check_ddata_order(messages):
    """Per facility, the raw sensor readings' DDATA timestamps never go backwards
    (fault-free runs). What the gateway stamps with its own clock is left out: a daily
    report is stamped at the midnight that ended its day but made
    history.daily_report_delay_s later, after readings of the new day
    (docs/wire-format.md), and a sensor's `online` going false is stamped when the clock
    finds it silent, which under a sanitizer can be before the samples of a simulator that
    lags its own clock. Neither is backlog order."""
    problems = []
    last = {}
    for msg in messages:
        if msg.type != "DDATA":
            continue
        for m in msg.metrics:
            name = m["name"]
            if not name.startswith("sensors/") or name.endswith("/online"):
                continue
            prev = last.get(msg.device)
            if prev is not None and m["timestamp"] < prev[0]:
                problems.append("%s: %s ts %d after ts %d (%s)" % (msg.device, m["name"], m["timestamp"],
                                                                   prev[0], prev[1]))
            last[msg.device] = (m["timestamp"], m["name"])
    return problems


def conflicting_duplicates(by_metric):
    """(device, name, ts) seen with different values: a platform de-duplicating on that key
    would keep an arbitrary one."""
    problems = []
    for key, ms in by_metric.items():
        seen = {}
        for m in ms:
            v = seen.setdefault(m["timestamp"], m["value"])
            if v != m["value"]:
                problems.append("%s/%s at %d: %r and %r" % (key[0], key[1], m["timestamp"], v, m["value"]))
    return problems


def last_at(ms):
    """{ts: value of the last reading with that ts}."""
    out = {}
    for m in ms:
        out[m["timestamp"]] = m["value"]
    return out


def check_raw_values(by_metric, facilities):
    """Plausibility of the simulated values: counters and meters never go back, statuses
    are OCPP statuses, power within the charge point's rating."""
    problems = []
    for f in facilities:
        for s in f.get("sensors", []):
            prefix = "sensors/%s/" % s["id"]
            for (dev, name), ms in by_metric.items():
                if dev != f["id"] or not name.startswith(prefix):
                    continue
                point = name[len(prefix):]
                series = sorted(last_at(ms).items())
                if point.endswith("_total") or point.endswith("energy_kwh"):
                    for (t0, v0), (t1, v1) in zip(series, series[1:]):
                        if v1 < v0:
                            problems.append("%s/%s goes back from %s to %s at %d" % (dev, name, v0, v1, t1))
                            break
                if point.endswith("/status"):
                    bad = {v for _, v in series} - OCPP_STATUSES
                    if bad:
                        problems.append("%s/%s: not OCPP statuses: %s" % (dev, name, bad))
                if point.endswith("/power_kw"):
                    top = float(s.get("max_power_kw", 7)) * 1.01
                    bad = [v for _, v in series if not (0 <= v <= top)]
                    if bad:
                        problems.append("%s/%s: power outside 0..%s: %s" % (dev, name, top, bad[:5]))
    return problems


def expected_door_metrics(by_metric, facility, grid_ts, tz="Asia/Shanghai"):
    """occupancy/current and visits/entries per grid ts recomputed from the facility's
    door counters: the first sample is the baseline; occupancy adds entries minus exits
    (clamped at 0), visits add entries within the local day of the sample."""
    doors = [s["id"] for s in facility["sensors"] if s["kind"] == "door_counter"]
    series = {}
    for d in doors:
        for point in ("entries_total", "exits_total"):
            series[(d, point)] = last_at(by_metric.get((facility["id"], "sensors/%s/%s" % (d, point)), []))
    occ, visits = {}, {}
    cur, day_visits, day = 0, 0, None
    prev_ts = None
    for t in grid_ts:
        if prev_ts is None:
            day = local_day(t, tz)
            occ[t], visits[t] = 0, 0
            prev_ts = t
            continue
        de = dx = 0
        for d in doors:
            de += series[(d, "entries_total")][t] - series[(d, "entries_total")][prev_ts]
            dx += series[(d, "exits_total")][t] - series[(d, "exits_total")][prev_ts]
        cur = max(0, cur + de - dx)
        today = local_day(t, tz)
        if today != day:
            day, day_visits = today, 0
        day_visits += de
        occ[t], visits[t] = cur, day_visits
        prev_ts = t
    return occ, visits


def check_door_metrics(by_metric, facilities, grid_ts):
    """Derived occupancy/current, visits/entries and occupancy/ratio agree with the
    counters at every grid timestamp."""
    problems = []
    checked = 0
    for f in facilities:
        if not any(s["kind"] == "door_counter" for s in f["sensors"]):
            continue
        try:
            occ, visits = expected_door_metrics(by_metric, f, grid_ts)
        except KeyError as e:
            problems.append("%s: door counter reading missing at %s; derived metrics not checked" % (f["id"], e))
            continue
        got_occ = last_at(by_metric.get((f["id"], "occupancy/current"), []))
        got_vis = last_at(by_metric.get((f["id"], "visits/entries"), []))
        for t in grid_ts:
            checked += 1
            if t not in got_occ:
                problems.append("%s: no occupancy/current at %d" % (f["id"], t))
            elif got_occ[t] != occ[t]:
                problems.append("%s: occupancy/current %s at %d, counters say %s" % (f["id"], got_occ[t], t, occ[t]))
            if t not in got_vis:
                problems.append("%s: no visits/entries at %d" % (f["id"], t))
            elif got_vis[t] != visits[t]:
                problems.append("%s: visits/entries %s at %d, counters say %s" % (f["id"], got_vis[t], t, visits[t]))
    for f in facilities:
        cap = f.get("capacity")
        cur = last_at(by_metric.get((f["id"], "occupancy/current"), []))
        for m in by_metric.get((f["id"], "occupancy/ratio"), []):
            if m["timestamp"] not in cur or not cap:
                continue
            want = f32(cur[m["timestamp"]] / cap)
            if abs(m["value"] - want) > 1e-6:
                problems.append("%s: occupancy/ratio %r at %d, current/capacity = %r"
                                % (f["id"], m["value"], m["timestamp"], want))
    return problems, checked


def report(problems, limit=30):
    """Formats a list of problems for an assertion message."""
    head = problems[:limit]
    more = len(problems) - len(head)
    return "\n".join(head) + ("\n... and %d more" % more if more > 0 else "")
