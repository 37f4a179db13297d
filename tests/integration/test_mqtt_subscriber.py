"""Local MQTT driver against a real mosquitto, fed by mosquitto_pub with zigbee2mqtt-
and ChirpStack-shaped messages.

Proves at the platform side: JSON Pointer mapping with type conversion, the sensor taken
from a topic level (zigbee2mqtt) and from the payload (ChirpStack deviceInfo), the
timestamp taken from an RFC 3339 field, a counter reset counted right, malformed
payloads (not JSON, wrong types, unknown devices, too large) logged and survived
without losing the good messages around them, and messages published while the
gateway was down delivered after its restart (QoS 1, persistent session, PUBACK only
after commit).
"""

import datetime
import json
import shutil
import subprocess
import time

from helpers import BOOLEAN, UINT32, UINT64, base_config
from sparkplug import latest, value_is

GROUP, EDGE = "huacao", "gw-mqtt"


def mosquitto_pub(broker, topic, payload, qos=1):
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    subprocess.run([exe, "-h", "127.0.0.1", "-p", str(broker.port), "-q", str(qos), "-t", topic, "-s"],
                   input=payload.encode() if isinstance(payload, str) else payload, check=True, timeout=10)


def rfc3339(ms):
    dt = datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone(datetime.timedelta(hours=8)))
    return dt.isoformat(timespec="milliseconds")


def chirpstack_up(device, entries, exits, ms):
    return json.dumps({
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        "time": rfc3339(ms),
        "deviceInfo": {"tenantName": "ChirpStack", "applicationName": "people-counters",
                       "deviceProfileName": "counter", "deviceName": device,
                       "devEui": "0101010101010101"},
        "devAddr": "00189440", "adr": True, "dr": 5, "fCnt": 7, "fPort": 2, "confirmed": False,
        "data": "AQ==", "object": {"entries": entries, "exits": exits},
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -57, "snr": 10}],
    })


def config(tmp_path, local):
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
                   "sensors": [{"id": "seat-1", "kind": "seat", "driver": "mqtt"},
                               {"id": "seat-2", "kind": "seat", "driver": "mqtt"},
                               {"id": "door-1", "kind": "door_counter", "driver": "mqtt"}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"mqtt": {
        "broker": local.uri, "client_id": "gw-mqtt-south", "keep_alive_s": 5, "max_payload_bytes": 4096,
        "reconnect": {"min_ms": 100, "max_ms": 1000},
        "subscriptions": [
            {"topic": "zigbee2mqtt/+", "facility": "canteen-1", "sensor_level": 1,
             "points": [{"point": "occupied", "pointer": "/occupancy"},
                        {"point": "battery", "pointer": "/battery", "type": "uint32"}]},
            {"topic": "application/+/device/+/event/up", "facility": "canteen-1",
             "sensor_pointer": "/deviceInfo/deviceName", "timestamp_pointer": "/time",
             "points": [{"point": "entries_total", "pointer": "/object/entries"},
                        {"point": "exits_total", "pointer": "/object/exits"}]},
        ]}}
    return cfg


def test_mqtt_subscriber(tmp_path, broker, make_broker, make_subscriber, make_gateway):
    local = make_broker(name="local")
    sub = make_subscriber(broker)
    gw = make_gateway(config(tmp_path, local), [broker.uri])
    gw.wait_log(r"mqtt: subscribed to 2 of 2 filters", 15)
    gw.wait_log(r"uplink: NBIRTH", 15)

    # zigbee2mqtt: the sensor is the topic's second level.
    mosquitto_pub(local, "zigbee2mqtt/seat-1", '{"occupancy":true,"battery":97,"linkquality":120}')
    sub.wait_for(value_is("canteen-1", "sensors/seat-1/occupied", True), 15, "seat-1 occupied")
    msgs = sub.snapshot()
    assert latest(msgs, "canteen-1", "sensors/seat-1/occupied")["datatype"] == BOOLEAN
    bat = latest(msgs, "canteen-1", "sensors/seat-1/battery")
    assert bat["value"] == 97 and bat["datatype"] == UINT32

    # ChirpStack: the sensor from deviceInfo, the timestamp from "time" (RFC 3339, +08:00).
    t0 = (int(time.time() * 1000) // 1000) * 1000 - 5000
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-1", 10, 2, t0))
    sub.wait_for(value_is("canteen-1", "sensors/door-1/entries_total", 10), 10, "door-1 entries 10")
    m = latest(sub.snapshot(), "canteen-1", "sensors/door-1/entries_total")
    assert m["timestamp"] == t0 and m["datatype"] == UINT64
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-1", 15, 2, t0 + 1000))
    sub.wait_for(value_is("canteen-1", "visits/entries", 5), 10, "visits 5")
    # The counter reboots to 0 and counts 3: visits go on from 5 to 8.
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-1", 3, 0, t0 + 2000))
    sub.wait_for(value_is("canteen-1", "visits/entries", 8), 10, "visits 8 after the counter reset")
    sub.wait_for(value_is("canteen-1", "occupancy/current", 8), 10, "occupancy 8 (exits reset to 0)")

    # Malformed payloads: logged, counted, acknowledged; the good ones around them arrive.
    mosquitto_pub(local, "zigbee2mqtt/seat-2", "this is not json")
    mosquitto_pub(local, "zigbee2mqtt/seat-2", '{"occupancy":"maybe"}')
    mosquitto_pub(local, "zigbee2mqtt/seat-2", '[1,2,3]')
    mosquitto_pub(local, "zigbee2mqtt/fridge-9", '{"occupancy":true}')
    mosquitto_pub(local, "zigbee2mqtt/seat-2", '{"occupancy":"' + "x" * 10000 + '"}')
    mosquitto_pub(local, "application/7/device/01/event/up", '{"deviceInfo":{"deviceName":"door-1"},'
                  '"time":"yesterday","object":{"entries":1}}')
    mosquitto_pub(local, "zigbee2mqtt/seat-2", '{"occupancy":true}')
    sub.wait_for(value_is("canteen-1", "sensors/seat-2/occupied", True), 10, "seat-2 after bad payloads")
    log = gw.log_text()
    for needle in ("payload is not JSON", "is not a boolean", "'fridge-9' is not an mqtt sensor",
                   "larger than max_payload_bytes", "/time: timestamp 'yesterday'"):
        assert needle in log, "no log line with %r" % needle
    assert gw.running()

    # The local broker restarts (without persistence: a new session): the driver
    # reconnects with backoff and subscribes again.
    local.restart()
    gw.wait_log(r"mqtt: broker closed the connection|mqtt: .*(reset|refused)", 15)
    gw.wait_log(r"mqtt: connected to .* \(session new\)", 20)
    gw.wait_log(r"mqtt: subscribed to 2 of 2 filters(.|\n)*mqtt: subscribed to 2 of 2 filters", 10)
    mosquitto_pub(local, "zigbee2mqtt/seat-2", '{"occupancy":false}')
    sub.wait_for(value_is("canteen-1", "sensors/seat-2/occupied", False), 10, "seat-2 after the broker restart")

    # Down and back: what is published meanwhile waits in the persistent session.
    assert gw.terminate(timeout=30) == 0
    assert "bad payloads" in gw.log_text()
    mosquitto_pub(local, "zigbee2mqtt/seat-1", '{"occupancy":false,"battery":96}')
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-1", 7, 1, t0 + 3000))
    gw.start()
    gw.wait_log(r"mqtt: connected to .* \(session resumed\)", 15)
    sub.wait_for(value_is("canteen-1", "sensors/seat-1/occupied", False), 15, "seat-1 free after restart")
    sub.wait_for(value_is("canteen-1", "visits/entries", 12), 15, "visits 12 after restart")
    assert gw.terminate(timeout=30) == 0


def test_mqtt_no_ack_before_commit(tmp_path, broker, make_broker, make_subscriber, make_gateway):
    """A message whose readings the core cannot take (kBusy: a batch larger than
    max_pending_readings) stays unacknowledged; after a SIGKILL, the next gateway run
    with the same client id gets it again from the broker's session and commits it. A
    client that acknowledged on receipt (Paho) would have lost it."""
    local = make_broker(name="local")
    sub = make_subscriber(broker)
    cfg = config(tmp_path, local)
    cfg["buffer"]["max_pending_readings"] = 1  # two readings per message: always refused
    gw = make_gateway(cfg, [broker.uri], name="held")
    gw.wait_log(r"mqtt: subscribed to 2 of 2 filters", 15)
    gw.wait_log(r"uplink: NBIRTH", 15)
    mosquitto_pub(local, "zigbee2mqtt/seat-1", '{"occupancy":true,"battery":55}')
    gw.wait_log(r"mqtt: the core is behind; messages wait unacknowledged", 15)
    sub.assert_none_for(value_is("canteen-1", "sensors/seat-1/battery", 55), 1.0, "a refused reading published")
    gw.kill()

    cfg["buffer"]["max_pending_readings"] = 100000
    gw2 = make_gateway(cfg, [broker.uri], name="room")
    gw2.wait_log(r"mqtt: connected to .* \(session resumed\)", 15)
    sub.wait_for(value_is("canteen-1", "sensors/seat-1/battery", 55), 15, "the held message after the crash")
    sub.wait_for(value_is("canteen-1", "sensors/seat-1/occupied", True), 5, "its other point")
    assert gw2.terminate(timeout=30) == 0
