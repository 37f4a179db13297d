"""OCPP 1.6J driver, local central system: ocpp-rpc's RPCClient (npm) as the charge
points, the real binary as their central system, real mosquitto and the Sparkplug
decoding subscriber on the platform side.

Proves: boot (Accepted, interval, currentTime), status changes, an authorised session
with meter values, a reconnect in the middle of the session (the transaction goes on
and stops correctly), stop with the session row as a DataSet carrying the idTag's hash
and never the idTag (not on the wire, not in the log), the facility metrics of the wire
contract (connectors/{n}/*, sessions/active, sessions/completed, occupancy/current),
security profile 1 (wrong or missing password refused), unknown charge points refused,
the subprotocol required, security profile 2 (TLS with a test CA), and transaction ids
that keep growing across a gateway restart.
"""

import datetime
import re
import socket

from certs import Ca
from helpers import BOOLEAN, DOUBLE, FLOAT, STRING, base_config, free_port
from ocpp_peers import ChargePoint
from sparkplug import latest, readings, value_is

GROUP, EDGE = "huacao", "gw-ocpp"
FAC = "charging-1"
PW1 = "cp1-Secret-pass"
TAG = "CARD0042"
BAD_TAG = "CARD9999"
SALT = "salt-for-the-ocpp-tests-0123456789"


def now_iso(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def config(tmp_path, port, **ocpp):
    facilities = [{"id": FAC, "type": "charging_station", "name": "Car park B2",
                   "sensors": [{"id": "CP-1", "kind": "charge_point", "driver": "ocpp", "connectors": 2,
                                "max_power_kw": 7},
                               {"id": "CP-2", "kind": "charge_point", "driver": "ocpp", "connectors": 1,
                                "max_power_kw": 60}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    o = {"enabled": True, "port": port, "authorize": [TAG], "id_tag_salt": SALT,
         "charge_points": [{"id": "CP-1", "password": PW1}]}
    o.update(ocpp)
    cfg["drivers"] = {"ocpp": o}
    return cfg


def meter(power_w, energy_wh, tx=None, connector=1):
    p = {"connectorId": connector, "meterValue": [{"timestamp": now_iso(), "sampledValue": [
        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}
    if tx is not None:
        p["transactionId"] = tx
    return p


def status(connector, st):
    return {"connectorId": connector, "errorCode": "NoError", "status": st, "timestamp": now_iso()}


def boot(cp):
    r = cp.ok("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC7-2"})
    assert r["status"] == "Accepted" and r["interval"] == 300
    t = datetime.datetime.fromisoformat(r["currentTime"].replace("Z", "+00:00"))
    assert abs((t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 10
    return r


def test_local_central_system(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port), [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://127\.0\.0\.1:%d/ocpp/" % port, 15)
    url = "ws://127.0.0.1:%d/ocpp" % port
    peers = []

    def cp(cp_id, **kw):
        c = ChargePoint(url, cp_id, **kw)
        peers.append(c)
        return c

    try:
        # Security profile 1 and unknown ids: refused at the handshake.
        r = cp("CP-1", password="wrong-password").connect()
        assert not r["ok"] and r.get("status") == 401, r
        r = cp("CP-1").connect()
        assert not r["ok"] and r.get("status") == 401, r
        r = cp("CP-404").connect()
        assert not r["ok"] and r.get("status") == 404, r
        r = cp("CP-2", protocol="none").connect()  # no subprotocol offered
        assert not r["ok"] and r.get("status") == 400, r

        c1 = cp("CP-1", password=PW1)
        assert c1.connect()["ok"]
        c2 = cp("CP-2")  # no password configured: loopback only
        assert c2.connect()["ok"]
        boot(c1)
        boot(c2)
        assert c1.ok("Heartbeat")["currentTime"].endswith("Z")
        for n in (1, 2):
            assert c1.ok("StatusNotification", status(n, "Available")) == {}
        c2.ok("StatusNotification", status(1, "Available"))
        sub.wait_for(value_is(FAC, "connectors/3/status", "Available"), 15, "CP-2's connector (3rd of the facility)")
        sub.wait_for(value_is(FAC, "sensors/CP-1/online", True), 10, "CP-1 online")

        # An authorised session with meter values.
        assert c1.ok("Authorize", {"idTag": BAD_TAG})["idTagInfo"]["status"] == "Invalid"
        assert c1.ok("Authorize", {"idTag": TAG})["idTagInfo"]["status"] == "Accepted"
        c1.ok("StatusNotification", status(1, "Preparing"))
        start = c1.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 1000,
                                           "timestamp": now_iso(-1)})
        assert start["idTagInfo"]["status"] == "Accepted"
        tx = start["transactionId"]
        assert isinstance(tx, int) and tx > 0
        c1.ok("StatusNotification", status(1, "Charging"))
        c1.ok("MeterValues", meter(7000, 2500, tx))
        sub.wait_for(value_is(FAC, "connectors/1/power_kw", 7.0), 15, "power 7 kW")
        sub.wait_for(value_is(FAC, "connectors/1/energy_kwh", 2.5), 10, "energy 2.5 kWh")
        sub.wait_for(value_is(FAC, "sessions/active", 1), 10, "one active session")
        sub.wait_for(value_is(FAC, "occupancy/current", 1), 10, "one connector in use")
        sub.wait_for(value_is(FAC, "sensors/CP-1/connector/1/transaction_id", tx), 10, "the current session")
        msgs = sub.snapshot()
        assert latest(msgs, FAC, "connectors/1/status")["value"] == "Charging"
        assert latest(msgs, FAC, "sensors/CP-1/connector/1/power_kw")["datatype"] == FLOAT
        assert latest(msgs, FAC, "sensors/CP-1/connector/1/energy_kwh")["datatype"] == DOUBLE
        assert latest(msgs, FAC, "sensors/CP-1/connector/1/status")["datatype"] == STRING

        # Reconnect in the middle of the session: a new connection replaces the old.
        c1b = cp("CP-1", password=PW1)
        assert c1b.connect()["ok"]
        gw.wait_log(r"CP-1 connected again", 10)
        c1.close(force=True)
        boot(c1b)
        c1b.ok("StatusNotification", status(1, "Charging"))
        c1b.ok("MeterValues", meter(6500, 3500, tx))
        sub.wait_for(value_is(FAC, "connectors/1/energy_kwh", 3.5), 15, "energy after the reconnect")
        assert latest(sub.snapshot(), FAC, "sensors/CP-1/connector/1/transaction_id")["value"] == tx

        # Stop: the session row, once, with the hash and not the idTag.
        stop = c1b.ok("StopTransaction", {"transactionId": tx, "meterStop": 4200, "timestamp": now_iso(),
                                          "idTag": TAG, "transactionData": [meter(0, 4200)["meterValue"][0]]})
        assert stop["idTagInfo"]["status"] == "Accepted"
        c1b.ok("StatusNotification", status(1, "Finishing"))
        c1b.ok("StatusNotification", status(1, "Available"))
        sub.wait_for(lambda m: latest(m, FAC, "sensors/CP-1/connector/1/transaction") is not None, 15, "session row")
        sub.wait_for(value_is(FAC, "sessions/completed", 1), 10, "one session completed")
        sub.wait_for(value_is(FAC, "sessions/active", 0), 10, "no active session")
        sub.wait_for(value_is(FAC, "occupancy/current", 0), 10, "no connector in use")
        msgs = sub.snapshot()
        rows = readings(msgs)[(FAC, "sensors/CP-1/connector/1/transaction")]
        assert len(rows) == 1
        row, = rows[0]["value"]
        assert row["transaction_id"] == tx
        assert row["meter_start_kwh"] == 1.0 and row["meter_stop_kwh"] == 4.2
        assert abs(row["energy_kwh"] - 3.2) < 1e-9
        assert row["stop_reason"] == "Local"  # absent: the spec's default
        assert 0 < row["stop_ms"] - row["start_ms"] < 120000
        assert re.fullmatch(r"[0-9a-f]{32}", row["id_tag_hash"])
        assert latest(msgs, FAC, "sensors/CP-1/connector/1/transaction_id")["value"] == 0
        assert latest(msgs, FAC, "connectors/1/energy_kwh")["value"] == 4.2
        assert all(TAG.encode() not in m.raw for m in msgs), "the idTag reached the wire"

        # Another session on CP-2 (60 kW, kW and kWh units), with a stop reason.
        s2 = c2.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 0, "timestamp": now_iso()})
        assert s2["transactionId"] > tx
        c2.ok("StatusNotification", status(1, "Charging"))
        c2.ok("MeterValues", {"connectorId": 1, "transactionId": s2["transactionId"], "meterValue": [
            {"timestamp": now_iso(), "sampledValue": [
                {"value": "48.5", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "12.25", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}]}]})
        sub.wait_for(value_is(FAC, "connectors/3/power_kw", 48.5), 15, "48.5 kW on CP-2")
        c2.ok("StopTransaction", {"transactionId": s2["transactionId"], "meterStop": 12250, "timestamp": now_iso(),
                                  "reason": "EVDisconnected"})
        sub.wait_for(lambda m: latest(m, FAC, "sensors/CP-2/connector/1/transaction") is not None, 15, "row 2")
        row2, = latest(sub.snapshot(), FAC, "sensors/CP-2/connector/1/transaction")["value"]
        assert row2["stop_reason"] == "EVDisconnected" and row2["energy_kwh"] == 12.25
        assert row2["id_tag_hash"] == row["id_tag_hash"]  # the same card, the same hash

        # DataTransfer with an unknown vendor; unsupported actions refused.
        assert c1b.ok("DataTransfer", {"vendorId": "com.acme"})["status"] == "UnknownVendorId"
        assert c1b.ok("FirmwareStatusNotification", {"status": "Idle"}) == {}
        log = gw.log_text(whole=True)
        assert TAG not in log and PW1 not in log
        assert row["id_tag_hash"] in log  # what is logged instead

        # Disconnect: online false.
        c2.close()
        sub.wait_for(value_is(FAC, "sensors/CP-2/online", False), 10, "CP-2 offline")
        assert latest(sub.snapshot(), FAC, "sensors/CP-2/online")["datatype"] == BOOLEAN
    finally:
        for p in peers:
            p.stop()

    # A restart does not reuse transaction ids, and a session open across it stops right.
    c = ChargePoint(url, "CP-2")
    peers = [c]
    try:
        assert c.connect()["ok"]
        s3 = c.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 20000, "timestamp": now_iso()})
        c.close(force=True)
        gw.terminate()
        gw.start()
        gw.wait_log(r"1 open transaction\(s\)", 15)
        c = ChargePoint(url, "CP-2")
        peers.append(c)
        assert c.connect()["ok"]
        s4 = c.ok("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 0, "timestamp": now_iso()})
        assert s4["transactionId"] > s3["transactionId"] > s2["transactionId"]
        c.ok("StopTransaction", {"transactionId": s3["transactionId"], "meterStop": 21500, "timestamp": now_iso()})
        sub.wait_for(lambda m: any(r["value"][0]["transaction_id"] == s3["transactionId"] for r in
                                   readings(m).get((FAC, "sensors/CP-2/connector/1/transaction"), [])),
                     15, "the row of the session open across the restart")
        rows = readings(sub.snapshot())[(FAC, "sensors/CP-2/connector/1/transaction")]
        r3 = [r["value"][0] for r in rows if r["value"][0]["transaction_id"] == s3["transactionId"]][0]
        assert abs(r3["energy_kwh"] - 1.5) < 1e-9 and r3["meter_start_kwh"] == 20.0
    finally:
        for p in peers:
            p.stop()


def test_tls_profile_2(tmp_path, broker, make_subscriber, make_gateway):
    ca = Ca(str(tmp_path), "ocpp-test")
    cert, key = ca.issue("gateway", server=True)
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port, cert_file=cert, key_file=key), [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at wss://", 15)
    url = "wss://127.0.0.1:%d/ocpp" % port
    peers = [ChargePoint(url, "CP-1", password="nope", ca=ca.cert_path),
             ChargePoint(url, "CP-1", password=PW1, ca=ca.cert_path),
             ChargePoint(url, "CP-1", password=PW1)]  # without the CA: the certificate is not trusted
    try:
        r = peers[0].connect()
        assert not r["ok"] and r.get("status") == 401, r
        r = peers[2].connect()
        assert not r["ok"] and r.get("status") is None, r
        assert peers[1].connect()["ok"]
        boot(peers[1])
        peers[1].ok("StatusNotification", status(2, "Faulted"))
        sub.wait_for(value_is(FAC, "connectors/2/status", "Faulted"), 15, "status over TLS")
        # Plain WebSocket on the TLS port: no handshake.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /ocpp/CP-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        assert b"101" not in s.recv(100)
        s.close()
    finally:
        for p in peers:
            p.stop()
