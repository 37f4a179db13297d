"""OCPP 1.6J driver against malformed and hostile input, with raw WebSocket frames
(python3-websocket) while a well-behaved charge point (ocpp-rpc) stays connected.

Every schema-breaking payload is first shown invalid by jsonschema with the official
OCPP 1.6 schema shipped in ocpp-rpc (the oracle), then sent: each gets the CALLERROR
with the code OCPP-J 1.6 prescribes. Non-JSON, wrong frame types, unknown and
unsupported actions get theirs; oversized and binary messages, floods of calls and a run
of malformed frames close the connection (1009, 1003, 1008, 1002). The gateway stays up
and the other charge point is served throughout.
"""

import json
import struct

import pytest
import websocket

from helpers import base_config, free_port
from ocpp_peers import ChargePoint, schema_errors
from sparkplug import value_is

GROUP, EDGE = "huacao", "gw-ocpp-bad"
FAC = "charging-3"

# (action, payload, the CALLERROR code) - each payload breaks the 1.6 schema once.
SCHEMA_CASES = [
    ("BootNotification", {"chargePointModel": "X"}, "OccurenceConstraintViolation"),
    ("BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "X"}, "PropertyConstraintViolation"),
    ("BootNotification", {"chargePointVendor": 42, "chargePointModel": "X"}, "TypeConstraintViolation"),
    ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "X", "color": "red"}, "FormationViolation"),
    ("Heartbeat", {"now": 1}, "FormationViolation"),
    ("Authorize", {"idTag": "T" * 21}, "PropertyConstraintViolation"),
    ("Authorize", {}, "OccurenceConstraintViolation"),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
     "PropertyConstraintViolation"),
    ("StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Available"},
     "TypeConstraintViolation"),
    ("StatusNotification", {"connectorId": 1, "status": "Available"}, "OccurenceConstraintViolation"),
    ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1.5, "timestamp": "2024-03-04T08:00:00Z"},
     "TypeConstraintViolation"),
    ("StartTransaction", {"connectorId": 1, "idTag": "T", "timestamp": "2024-03-04T08:00:00Z"},
     "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1"}]}]},
     "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2024-03-04T08:00:00Z",
                                                       "sampledValue": [{"value": "1", "unit": "MW"}]}]},
     "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2024-03-04T08:00:00Z",
                                                       "sampledValue": [{"value": 1}]}]},
     "TypeConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": {"not": "an array"}}, "TypeConstraintViolation"),
    ("StopTransaction", {"transactionId": 1, "meterStop": 1, "timestamp": "2024-03-04T08:00:00Z", "reason": "Bored"},
     "PropertyConstraintViolation"),
    ("DataTransfer", {"vendorId": "v", "messageId": "m" * 51}, "PropertyConstraintViolation"),
    ("FirmwareStatusNotification", {"status": "Exploded"}, "PropertyConstraintViolation"),
]


def config(tmp_path, port):
    facilities = [{"id": FAC, "type": "charging_station", "name": "Piles",
                   "sensors": [{"id": "BAD-1", "kind": "charge_point", "driver": "ocpp", "connectors": 2},
                               {"id": "GOOD-1", "kind": "charge_point", "driver": "ocpp", "connectors": 1}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "max_frame_bytes": 65536,
                               "max_calls_per_minute": 600}}
    return cfg


def raw(port, cp_id="BAD-1"):
    return websocket.create_connection("ws://127.0.0.1:%d/ocpp/%s" % (port, cp_id), subprotocols=["ocpp1.6"],
                                       timeout=10)


def rpc(ws, text):
    ws.send(text)
    return json.loads(ws.recv())


def frames_until_close(ws):
    """(text messages, close code) read until the gateway's close frame (not answered:
    the gateway may already have dropped the TCP connection)."""
    texts = []
    while True:
        try:
            frame = ws.recv_frame()
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return texts, None
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            return texts, struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
        if frame.opcode == websocket.ABNF.OPCODE_TEXT:
            texts.append(json.loads(frame.data))


def close_code(ws):
    return frames_until_close(ws)[1]


@pytest.fixture
def setup(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, port), [broker.uri])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://127\.0\.0\.1:%d" % port, 15)
    good = ChargePoint("ws://127.0.0.1:%d/ocpp" % port, "GOOD-1")
    assert good.connect()["ok"]
    yield port, sub, gw, good
    good.stop()


def test_hostile_frames(setup):
    port, sub, gw, good = setup
    ws = raw(port)
    assert ws.subprotocol == "ocpp1.6"

    # Frame structure.
    frames = [
        ("hello", "-1", "FormationViolation"),
        ('{"a": 1}', "-1", "FormationViolation"),
        ("[2, 17, \"Heartbeat\", {}]", "-1", "FormationViolation"),
        ('[2, "f1", "Heartbeat"]', "f1", "FormationViolation"),
        ('[2, "f2", "Heartbeat", []]', "f2", "FormationViolation"),
        ('[2, "f3", 7, {}]', "f3", "FormationViolation"),
        ('["2", "f4", "Heartbeat", {}]', "f4", "FormationViolation"),
        ('[9, "f5", {}]', "f5", "ProtocolError"),
        ('[2, "f6", "SelfDestruct", {}]', "f6", "NotImplemented"),
        ('[2, "f7", "RemoteStartTransaction", {"idTag": "x"}]', "f7", "NotSupported"),
        ('[2, "f8", "SecurityEventNotification", {}]', "f8", "NotSupported"),
    ]
    for text, want_id, code in frames:
        r = rpc(ws, text)
        assert r[0] == 4 and r[1] == want_id and r[2] == code, (text, r)
    # A CALLRESULT nobody asked for is ignored; the connection goes on.
    ws.send('[3, "nobody-asked", {}]')
    assert rpc(ws, '[2, "hb", "Heartbeat", {}]')[0] == 3

    # Payloads against the official schema (the oracle), then against the gateway.
    for i, (action, payload, code) in enumerate(SCHEMA_CASES):
        assert schema_errors(action, payload), "the oracle finds %s %r valid" % (action, payload)
        r = rpc(ws, json.dumps([2, "s%d" % i, action, payload]))
        assert r[:3] == [4, "s%d" % i, code], (action, payload, r)
    # The valid forms of the same actions pass the oracle and the gateway alike.
    valid = [("BootNotification", {"chargePointVendor": "V", "chargePointModel": "X"}),
             ("StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Unavailable"})]
    for i, (action, payload) in enumerate(valid):
        assert not schema_errors(action, payload)
        assert rpc(ws, json.dumps([2, "v%d" % i, action, payload]))[0] == 3
    # A date-time the gateway refuses (format is checked).
    r = rpc(ws, json.dumps([2, "t1", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                           "timestamp": "yesterday"}]))
    assert r[:3] == [4, "t1", "PropertyConstraintViolation"]
    sub.wait_for(value_is(FAC, "connectors/2/status", "Unavailable"), 15, "the valid status got through")

    # Ten malformed frames in a row: closed with 1002.
    for _ in range(10):
        ws.send("not json at all")
    assert close_code(ws) == 1002

    # Oversized frame: 1009.
    ws = raw(port)
    ws.send('[2, "big", "DataTransfer", {"vendorId": "v", "data": "%s"}]' % ("x" * 70000))
    assert close_code(ws) == 1009

    # Binary frame: 1003.
    ws = raw(port)
    ws.send_binary(b"\x00\x01\x02")
    assert close_code(ws) == 1003

    # A flood of calls: a burst of 10 s worth (101) is served, then the rate limit answers
    # GenericError, and 20 refused calls in a row close the connection (1008).
    ws = raw(port)
    for i in range(200):
        ws.send('[2, "h%d", "Heartbeat", {}]' % i)
    answers, code = frames_until_close(ws)
    ok = [a for a in answers if a[0] == 3]
    limited = [a for a in answers if a[0] == 4]
    assert 90 <= len(ok) <= 120 and len(limited) >= 20, (len(ok), len(limited))
    assert all(a[2] == "GenericError" for a in limited)
    assert code == 1008

    # Unknown ids and missing subprotocol are refused at the handshake.
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        raw(port, "NOT-CONFIGURED")
    assert e.value.status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection("ws://127.0.0.1:%d/ocpp/BAD-1" % port, timeout=5)
    assert e.value.status_code == 400

    # The gateway is up and the other charge point unaffected.
    assert gw.running()
    assert good.ok("Heartbeat")["currentTime"]
    good.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
    sub.wait_for(value_is(FAC, "connectors/3/status", "Charging"), 15, "the good charge point still served")
    assert not [e for e in good.events if e.get("event") == "close"]
