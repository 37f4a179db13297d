"""The payloads decode in the decoders platforms run, in both value encodings.

One simulated day and a bit of the demo's four facilities (so that every facility's
reports/daily DataSet is made at the local midnight) plus an OCPP charge point served by
ocpp-rpc (npm) with one finished charging session (the connector/{n}/transaction
DataSet, whose transaction_id column is Int32), against a real mosquitto.

- uplink.encoding: tahu: every message (NBIRTH, DBIRTH with every metric type incl. the
  DataSets, NDATA and DDATA by alias, NDEATH) decodes in Eclipse Tahu's npm
  sparkplug-payload, what Node-RED runs: no throw, no null, and every value equal to what
  the payload carries (read from the Protobuf field the gateway set, by the documented
  encoding), names resolved through the births' aliases.
- uplink.encoding: spec: every value is in the field the specification names, read with
  the Protobuf classes compiled from the project's .proto.
- In both: a subscriber that joins mid-stream sees aliases it cannot name, asks for a
  rebirth (NCMD Node Control/Rebirth) and then names every metric; and the session row
  equals what the charge point sent (docs/wire-format.md's definitions).
"""

import base64
import datetime
import json
import os
import subprocess

import pytest

import checks
from helpers import base_config, free_port, source_dir
from ocpp_peers import ChargePoint
from reports import FACILITIES as REPORT_FACILITIES
from reports import INTERVAL_S, SAMPLES_PER_DAY, SPEED, START
from sparkplug import Payload, by_type, readings

GROUP, EDGE = "huacao", "gw-decoders"
OCPP_FAC, CP = "charging-9", "CP-9"
TAG = "CARD0042"
JS_DIR = os.path.join(source_dir(), "tests", "sparkplug_js")
TAHU_DATASET_TYPES = {7, 4, 9, 10, 11, 12}  # the cell types Tahu JS reads without throwing

FACILITIES = REPORT_FACILITIES + [
    {"id": OCPP_FAC, "type": "charging_station", "name": "Car park B2",
     # A simulated pile as well: the simulator does not start for a facility it has no
     # sensor of (std::bad_alloc at start-up, a bug of its own, left to its issue).
     "sensors": [{"id": CP, "kind": "charge_point", "driver": "ocpp", "connectors": 1, "max_power_kw": 7},
                 {"id": "cp-sim", "kind": "charge_point", "connectors": 1, "max_power_kw": 7}]},
    # Residents' satisfaction: the feedback metrics and reports/daily's per-button
    # columns through every decoder.
    {"id": "canteen-9", "type": "canteen", "name": "Canteen with smileys", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "smiley-1", "kind": "feedback_terminal"}]}]


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def js_decode(raws):
    """Decodes each payload with npm sparkplug-payload (tests/sparkplug_js/decode.js)."""
    if not os.path.exists(os.path.join(JS_DIR, "node_modules", "sparkplug-payload", "package.json")):
        subprocess.run([os.path.join(JS_DIR, "setup.sh")], check=True, timeout=300)
    lines = "".join(json.dumps({"b64": base64.b64encode(r).decode()}) + "\n" for r in raws)
    out = subprocess.run(["node", os.path.join(JS_DIR, "decode.js")], input=lines, capture_output=True,
                         text=True, timeout=120, cwd=JS_DIR)
    assert out.returncode == 0, out.stderr
    decoded = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(decoded) == len(raws)
    return decoded


def carried(dt, holder):
    """The value a metric or DataSet cell carries: the Protobuf field the gateway set,
    read as its datatype says (Int8..Int32 two's complement in 32 bits, Int64 in 64)."""
    field = holder.WhichOneof("value")
    assert field is not None, "no value field set (datatype %d)" % dt
    v = getattr(holder, field)
    if field == "int_value" and dt in (1, 2, 3):
        return v - (1 << 32) if v >= (1 << 31) else v
    if field == "long_value" and dt == 4 and v >= (1 << 63):
        return v - (1 << 64)
    if field == "dataset_value":
        return {"columns": list(v.columns), "types": list(v.types),
                "rows": [[carried(t, e) for t, e in zip(v.types, row.elements)] for row in v.rows]}
    return v


def same(js, want):
    """A value as Tahu JS returned it equals the carried one."""
    if isinstance(js, dict) and "long" in js:
        return int(js["long"]) == want
    if isinstance(want, bool) or isinstance(js, bool):
        return js is want
    if isinstance(want, (int, float)):
        return isinstance(js, (int, float)) and js == want
    return js == want


def compare_with_tahu_js(msgs):
    """Problems: every metric of every Sparkplug message, decoded by Tahu JS, against
    what its payload carries."""
    sp = [m for m in msgs if m.type in ("NBIRTH", "NDEATH", "DBIRTH", "NDATA", "DDATA")]
    decoded = js_decode([m.raw for m in sp])
    problems = []
    for msg, js in zip(sp, decoded):
        if not js["ok"]:
            problems.append("%r: Tahu JS threw: %s" % (msg, js["error"]))
            continue
        p = Payload()
        p.ParseFromString(msg.raw)
        jm = js["payload"].get("metrics", [])
        if len(jm) != len(p.metrics):
            problems.append("%r: Tahu JS gave %d metrics of %d" % (msg, len(jm), len(p.metrics)))
            continue
        for mine, pm, theirs in zip(msg.metrics, p.metrics, jm):
            want = carried(pm.datatype, pm)
            got = theirs.get("value")
            where = "%r %s" % (msg, mine["name"])
            if got is None:
                problems.append("%s: null in Tahu JS" % where)
            elif pm.datatype == 16:
                if got.get("types") is None or got.get("columns") != want["columns"]:
                    problems.append("%s: DataSet header %s" % (where, got))
                    continue
                bad_types = set(want["types"]) - TAHU_DATASET_TYPES
                if bad_types:
                    problems.append("%s: DataSet column types %s" % (where, bad_types))
                for r, (jrow, wrow) in enumerate(zip(got["rows"], want["rows"])):
                    for c, (jc, wc) in enumerate(zip(jrow, wrow)):
                        if jc is None or not same(jc, wc):
                            problems.append("%s row %d %s: %r, sent %r" % (where, r, want["columns"][c], jc, wc))
                if len(got["rows"]) != len(want["rows"]):
                    problems.append("%s: %d rows of %d" % (where, len(got["rows"]), len(want["rows"])))
            elif not same(got, want):
                problems.append("%s: Tahu JS %r, sent %r" % (where, got, want))
            if int(theirs["timestamp"]["long"]) != pm.timestamp:
                problems.append("%s: timestamp %s, sent %d" % (where, theirs["timestamp"], pm.timestamp))
            if pm.HasField("alias") and int(theirs.get("alias", {"long": -1})["long"]) != pm.alias:
                problems.append("%s: alias %s, sent %d" % (where, theirs.get("alias"), pm.alias))
            if pm.HasField("name") != ("name" in theirs):
                problems.append("%s: name on the wire %s, in Tahu JS %s" % (where, pm.HasField("name"), theirs))
    return problems


@pytest.mark.parametrize("encoding", ["tahu", "spec"])
def test_decoders(tmp_path, broker, make_subscriber, make_gateway, encoding):
    port = free_port()
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=SAMPLES_PER_DAY + 6, seed=2026,
                      buffer={"commit_interval_ms": 2, "synchronous": "normal"},
                      uplink={"encoding": encoding})
    cfg["history"] = {"daily_report_delay_s": 1200}
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "authorize": [TAG],
                               "id_tag_salt": "salt-for-the-decoder-tests-0123456789"}}
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://127\.0\.0\.1:%d/ocpp/" % port, 15)

    cp = ChargePoint("ws://127.0.0.1:%d/ocpp" % port, CP)
    try:
        assert cp.connect()["ok"]
        cp.ok("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC7"})
        cp.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"})
        start = cp.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 1000,
                                           "timestamp": now_iso()})
        tx = start["transactionId"]
        cp.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
        cp.ok("StopTransaction", {"transactionId": tx, "meterStop": 3500, "timestamp": now_iso(),
                                  "reason": "EVDisconnected"})
        session_key = (OCPP_FAC, "sensors/%s/connector/1/transaction" % CP)
        sub.wait_for(lambda msgs: session_key in readings(msgs), 20, "the session DataSet")
        report_ids = [f["id"] for f in REPORT_FACILITIES]
        sub.wait_for(lambda msgs: all((f, "reports/daily") in readings(msgs) for f in report_ids), 90,
                     "every facility's reports/daily")
        sub.wait_for(lambda msgs: ("canteen-9", "reports/daily") in readings(msgs) and
                     ("canteen-9", "feedback/index") in readings(msgs), 30, "the feedback figures")
        daily = readings(sub.snapshot())[("canteen-9", "reports/daily")][-1]["value"]
        assert "feedback_very_happy" in daily[0] and "satisfaction_index" in daily[0], daily[0]

        # A host joining mid-stream: data by alias it cannot name, until it asks.
        late = make_subscriber(broker)
        cp.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Finishing"})
        unnamed = late.wait_for(lambda msgs: [m for m in msgs if m.type in ("NDATA", "DDATA")
                                              and any(x["name"] is None for x in m.metrics)], 20,
                                "data by alias before any birth")
        assert all(x["alias"] is not None and not x["wire_name"] for x in unnamed[0].metrics)
        mark = late.count()
        late.publish_rebirth(GROUP, EDGE)
        late.wait_for(lambda msgs: len(by_type(msgs[mark:], "DBIRTH")) == len(FACILITIES), 20, "births")
        cp.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
        late.wait_for(lambda msgs: any(x["name"] == "connectors/1/status" and x["value"] == "Available"
                                       for m in msgs[mark:] if m.type == "DDATA" for x in m.metrics), 20,
                      "the late host names data by alias after the births")
        late_msgs = late.snapshot()
        after = [m for m in late_msgs[mark:] if m.type in ("NDATA", "DDATA")]
        assert after and all(x["name"] is not None for m in after for x in m.metrics), \
            "metrics the late host cannot name after the births"
        assert all(not x["wire_name"] for m in after for x in m.metrics), "a name in data with aliases on"
    finally:
        cp.stop()
    assert gw.terminate(timeout=30) == 0
    sub.barrier()
    msgs = sub.snapshot()

    kinds = {m.type for m in msgs}
    assert {"NBIRTH", "DBIRTH", "NDATA", "DDATA", "NDEATH"} <= kinds, kinds
    birth_types = {x["datatype"] for m in by_type(msgs, "DBIRTH") for x in m.metrics}
    assert {3, 7, 8, 9, 10, 11, 12, 16} <= birth_types, "DBIRTH datatypes %s" % birth_types
    assert any(x["datatype"] == 16 for m in by_type(msgs, "DBIRTH") for x in m.metrics
               if x["name"] == "reports/daily")

    # The session row, by the documented definitions, from what the charge point sent.
    row = readings(msgs)[session_key][-1]["value"][0]
    assert row["transaction_id"] == tx and row["meter_start_kwh"] == 1.0 and row["meter_stop_kwh"] == 3.5
    assert row["energy_kwh"] == 2.5 and row["stop_reason"] == "EVDisconnected"

    if encoding == "tahu":
        problems = compare_with_tahu_js(msgs)
        u32 = [x for m in msgs if m.type in ("DBIRTH", "DDATA") for x in m.metrics if x["datatype"] == 7]
        assert u32 and all(x["field"] == "long_value" for x in u32), "UInt32 not in long_value"
    else:
        problems = checks.check_types(msgs)
        for msg in msgs:
            if msg.type not in ("NBIRTH", "NDEATH", "DBIRTH", "NDATA", "DDATA"):
                continue
            p = Payload()
            p.ParseFromString(msg.raw)
            for mine, pm in zip(msg.metrics, p.metrics):
                want = carried(pm.datatype, pm)
                got = mine["value"]
                if pm.datatype == 16:
                    got = {"columns": want["columns"], "types": want["types"],
                           "rows": [[r[c] for c in want["columns"]] for r in got]}
                if got != want:
                    problems.append("%r %s: %r, carried %r" % (msg, mine["name"], got, want))
    problems += checks.check_births(msgs, FACILITIES)
    assert not problems, checks.report(problems)
