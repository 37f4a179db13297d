"""OCPP 1.6J driver in pass-through mode: ocpp-rpc's RPCClient as the charge point,
ocpp-rpc's RPCServer as the operator's central system on another loopback port, the
gateway in between.

Proves: every frame passes both ways unchanged and in order (the client's log of what it
sent and received equals the server's log of what it received and sent, byte for byte,
including the operator's own CALL to the charge point), Basic auth towards the operator,
readings taken from what passes (the operator's transaction id, the session row), and,
with the operator down, the charge point stays connected and is answered by the gateway
(transaction ids from the gateway), readings still taken, and relaying resumes when the
operator is back.
"""

import datetime

from certs import Ca
from helpers import base_config, free_port, wait_until
from ocpp_peers import CentralSystem, ChargePoint
from sparkplug import latest, readings, value_is

GROUP, EDGE = "huacao", "gw-ocpp-pt"
FAC = "charging-2"
UP_PW = "operator-side-secret"
TAG = "OPCARD77"


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter(power_w, energy_wh, tx):
    return {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": now_iso(), "sampledValue": [
        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}


def status(st):
    return {"connectorId": 1, "errorCode": "NoError", "status": st}


def config(tmp_path):
    """One operator-owned pile (OP-1, one connector), no simulator; drivers.ocpp to add."""
    facilities = [{"id": FAC, "type": "charging_station", "name": "Operator piles",
                   "sensors": [{"id": "OP-1", "kind": "charge_point", "driver": "ocpp", "connectors": 1}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    return cfg


def test_pass_through(tmp_path, broker, make_subscriber, make_gateway):
    port, up_port = free_port(), free_port()
    cfg = config(tmp_path)
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "upstream": "ws://127.0.0.1:%d/csms/" % up_port,
                               "upstream_password": UP_PW}}
    sub = make_subscriber(broker)
    csms = CentralSystem(tmp_path / "csms.log", password=UP_PW, port=up_port)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://127\.0\.0\.1:%d/.*pass-through" % port, 15)
    cp_log = tmp_path / "cp.log"
    cp = ChargePoint("ws://127.0.0.1:%d/ocpp" % port, "OP-1", log=cp_log)
    peers = [cp, csms]
    try:
        assert cp.connect()["ok"]
        r = cp.ok("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "DC60"})
        assert r["interval"] == 60  # the operator's answer, not the gateway's 300
        cp.ok("StatusNotification", status("Available"))
        assert cp.ok("Authorize", {"idTag": TAG})["idTagInfo"]["status"] == "Accepted"
        start = cp.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 500, "timestamp": now_iso()})
        tx = start["transactionId"]
        assert tx >= 9000  # the operator's id
        cp.ok("StatusNotification", status("Charging"))
        cp.ok("MeterValues", meter(11000, 2500, tx))
        cp.ok("StopTransaction", {"transactionId": tx, "meterStop": 3500, "timestamp": now_iso(), "reason": "Remote"})
        cp.ok("StatusNotification", status("Available"))
        sub.wait_for(lambda m: latest(m, FAC, "sensors/OP-1/connector/1/transaction") is not None, 15, "session row")
        msgs = sub.snapshot()
        row, = latest(msgs, FAC, "sensors/OP-1/connector/1/transaction")["value"]
        assert row["transaction_id"] == tx and abs(row["energy_kwh"] - 3.0) < 1e-9 and row["stop_reason"] == "Remote"
        assert readings(msgs)[(FAC, "sensors/OP-1/connector/1/transaction_id")][0]["value"] == tx
        assert any(m["value"] == 11.0 for m in readings(msgs)[(FAC, "connectors/1/power_kw")])
        sub.wait_for(value_is(FAC, "sessions/completed", 1), 10, "one session completed")

        # Both ends saw every frame, unchanged and in order (incl. the operator's GetConfiguration).
        def both_logs():
            sent = [f["text"] for f in map(eval_line, open(cp_log)) if f["dir"] == "out"]
            got = [f["text"] for f in map(eval_line, open(cp_log)) if f["dir"] == "in"]
            up_in = [f["text"] for f in csms.frames("OP-1") if f["dir"] == "in"]
            up_out = [f["text"] for f in csms.frames("OP-1") if f["dir"] == "out"]
            return sent, got, up_in, up_out
        wait_until(lambda: len(both_logs()[2]) == len(both_logs()[0]) == 9 and
                   len(both_logs()[1]) == len(both_logs()[3]) == 9, 10)
        sent, got, up_in, up_out = both_logs()
        assert sent == up_in
        assert got == up_out
        assert any('"GetConfiguration"' in t for t in got)  # a CALL from the operator reached the pile

        # The operator goes down: the charge point stays connected and is served locally.
        csms.stop()
        gw.wait_log(r"OP-1: operator's central system lost", 10)
        assert cp.ok("Heartbeat")["currentTime"]
        s2 = cp.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 3500, "timestamp": now_iso()})
        # The gateway's id (a counter seeded from seconds since 2024), not the operator's 9000+.
        assert s2["idTagInfo"]["status"] == "Accepted" and s2["transactionId"] > 10**6
        cp.ok("MeterValues", meter(7000, 4500, s2["transactionId"]))
        sub.wait_for(value_is(FAC, "connectors/1/energy_kwh", 4.5), 15, "readings with the operator down")
        sub.wait_for(value_is(FAC, "sensors/OP-1/connector/1/transaction_id", s2["transactionId"]), 10, "local id")
        assert not [e for e in cp.events if e.get("event") == "close"], "the charge point was disconnected"

        # The operator is back: relaying resumes (after the gateway's backoff).
        csms2 = CentralSystem(tmp_path / "csms2.log", password=UP_PW, port=up_port)
        peers.append(csms2)
        gw.wait_log(r"OP-1: relaying to the operator's central system", 15)
        cp.ok("StopTransaction", {"transactionId": s2["transactionId"], "meterStop": 5000, "timestamp": now_iso()})
        wait_until(lambda: any('"StopTransaction"' in f["text"] for f in csms2.frames("OP-1")), 10)
        sub.wait_for(lambda m: len(readings(m).get((FAC, "sensors/OP-1/connector/1/transaction"), [])) == 2, 15,
                     "the second session row")
    finally:
        for p in peers:
            p.stop()


def test_pass_through_tls_both_sides(tmp_path, broker, make_subscriber, make_gateway):
    """wss:// from the pile to the gateway (profile 2) and from the gateway to the
    operator (verified against the operator's CA, Basic auth)."""
    ca = Ca(str(tmp_path), "ocpp-pt")
    gw_cert, gw_key = ca.issue("gateway", server=True)
    up_cert, up_key = ca.issue("operator", server=True)
    port, up_port = free_port(), free_port()
    cfg = config(tmp_path)
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "cert_file": gw_cert, "key_file": gw_key,
                               "upstream_ca_file": ca.cert_path,
                               "charge_points": [{"id": "OP-1", "password": "pile-pw",
                                                  "upstream": "wss://localhost:%d/csms" % up_port,
                                                  "upstream_password": UP_PW}]}}
    sub = make_subscriber(broker)
    csms = CentralSystem(tmp_path / "csms.log", password=UP_PW, port=up_port, cert=up_cert, key=up_key)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at wss://", 15)
    cp = ChargePoint("wss://127.0.0.1:%d/ocpp" % port, "OP-1", password="pile-pw", ca=ca.cert_path)
    try:
        assert cp.connect()["ok"]
        assert cp.ok("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "DC60"})["interval"] == 60
        cp.ok("StatusNotification", status("Charging"))
        sub.wait_for(value_is(FAC, "connectors/1/status", "Charging"), 15, "status through two TLS hops")
        wait_until(lambda: len([f for f in csms.frames("OP-1") if f["dir"] == "in"]) >= 2, 10)
        assert "pile-pw" not in gw.log_text(whole=True) and UP_PW not in gw.log_text(whole=True)
    finally:
        cp.stop()
        csms.stop()


def test_operator_unreachable_from_the_start(tmp_path, broker, make_subscriber, make_gateway):
    """Nobody listens at the upstream address: the pile is still booted, served and read."""
    port, up_port = free_port(), free_port()
    cfg = config(tmp_path)
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "upstream": "ws://127.0.0.1:%d/csms" % up_port}}
    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://", 15)
    cp = ChargePoint("ws://127.0.0.1:%d/ocpp" % port, "OP-1")
    try:
        assert cp.connect()["ok"]
        assert cp.ok("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "DC60"})["interval"] == 300
        start = cp.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 0, "timestamp": now_iso()})
        cp.ok("StatusNotification", status("Charging"))
        r = cp.call("Reset", {"type": "Hard"})  # not a call a pile makes: refused locally
        assert not r["ok"] and r["code"] == "NotSupported", r
        sub.wait_for(value_is(FAC, "sensors/OP-1/connector/1/transaction_id", start["transactionId"]), 15, "local tx")
        sub.wait_for(value_is(FAC, "sessions/active", 1), 10, "one active session")
        gw.wait_log(r"OP-1: operator's central system unreachable", 5)
    finally:
        cp.stop()


def eval_line(line):
    import json
    return json.loads(line)
