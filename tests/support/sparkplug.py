"""A Sparkplug B subscriber standing in for the city platform.

It subscribes spBv1.0/# at QoS 1 and must be connected and subscribed before the
gateway starts, so that nothing the gateway publishes is missed. Every message is
decoded with the sparkplug_b_pb2 module compiled from the gateway's own .proto and
recorded in arrival order; metric aliases are resolved to names from the births of the
edge node, as a host does (docs/wire-format.md, "Metric aliases"): a metric's "name" is
its name whether it came on the wire or through its alias ("wire_name" tells which);
an alias with no birth seen leaves "name" None; tests wait on a Condition (wait_for) instead of sleeping.

Threads: paho's network thread records; the test thread reads through snapshot() or
wait_for(), both under the same lock.
"""

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

import sparkplug_b_pb2  # generated from gateway/codec/sparkplug_b.proto

Payload = sparkplug_b_pb2.Payload

NODE_TYPES = {"NBIRTH", "NDEATH", "NDATA", "NCMD"}
DEVICE_TYPES = {"DBIRTH", "DDEATH", "DDATA", "DCMD"}
SEQ_TYPES = {"NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"}

_SIGNED32 = {1: 8, 2: 16, 3: 32}  # Int8/16/32 live two's complement in the uint32 field


def metric_value(m):
    """The value of a decoded Metric, read from the oneof field its datatype calls for."""
    dt = m.datatype
    if m.HasField("is_null") and m.is_null:
        return None
    if dt in _SIGNED32:
        v = m.int_value
        return v - (1 << 32) if v >= (1 << 31) else v
    if dt in (5, 6, 7):
        # uplink.encoding: tahu puts UInt32 in long_value; read whichever carries it.
        return m.long_value if m.WhichOneof("value") == "long_value" else m.int_value
    if dt == 4:
        v = m.long_value
        return v - (1 << 64) if v >= (1 << 63) else v
    if dt in (8, 13):
        return m.long_value
    if dt == 9:
        return m.float_value
    if dt == 10:
        return m.double_value
    if dt == 11:
        return m.boolean_value
    if dt in (12, 14, 15):
        return m.string_value
    if dt == 17:
        return m.bytes_value
    if dt == 16:
        return dataset_value(m.dataset_value)
    return None


def _cell(v, dt):
    if dt in _SIGNED32:
        x = v.int_value
        return x - (1 << 32) if x >= (1 << 31) else x
    if dt in (5, 6, 7):
        return v.long_value if v.WhichOneof("value") == "long_value" else v.int_value
    if dt == 4:
        x = v.long_value
        return x - (1 << 64) if x >= (1 << 63) else x
    if dt in (8, 13):
        return v.long_value
    if dt == 9:
        return v.float_value
    if dt == 10:
        return v.double_value
    if dt == 11:
        return v.boolean_value
    if dt in (12, 14, 15):
        return v.string_value
    return None


def dataset_value(ds):
    """A Sparkplug DataSet as a list of {column: value} rows (reports/daily)."""
    cols, types = list(ds.columns), list(ds.types)
    return [{c: _cell(e, t) for c, t, e in zip(cols, types, row.elements)} for row in ds.rows]


EXPECTED_FIELD = {}
for _dt in (1, 2, 3, 5, 6, 7):
    EXPECTED_FIELD[_dt] = "int_value"
for _dt in (4, 8, 13):
    EXPECTED_FIELD[_dt] = "long_value"
EXPECTED_FIELD.update({9: "float_value", 10: "double_value", 11: "boolean_value",
                       12: "string_value", 14: "string_value", 15: "string_value", 16: "dataset_value",
                       17: "bytes_value"})


class Message:
    """One received MQTT message, decoded."""

    __slots__ = ("index", "arrived", "topic", "group", "type", "edge", "device", "seq",
                 "timestamp", "metrics", "raw", "json", "error", "retained")

    def __init__(self, index, topic, raw, retained, aliases=None):
        """aliases: the edge node's {alias: name} table, updated by births and read by
        data; a fresh one when not given (a message decoded on its own)."""
        if aliases is None:
            aliases = {}
        self.index = index
        self.arrived = time.monotonic()
        self.topic = topic
        self.raw = raw
        self.retained = retained
        self.json = None
        self.error = None
        self.seq = None
        self.timestamp = None
        self.metrics = []
        parts = topic.split("/")
        self.group = self.type = self.edge = self.device = None
        if len(parts) >= 3 and parts[1] == "STATE":
            self.type = "STATE"
            self.edge = parts[2]
            try:
                self.json = json.loads(raw.decode())
            except Exception as e:  # noqa: BLE001 - recorded, the test decides
                self.error = "STATE not JSON: %s" % e
            return
        if len(parts) >= 4:
            self.group, self.type, self.edge = parts[1], parts[2], parts[3]
            if len(parts) >= 5:
                self.device = parts[4]
        try:
            p = Payload()
            p.ParseFromString(raw)
        except Exception as e:  # noqa: BLE001
            self.error = "undecodable payload: %s" % e
            return
        self.seq = p.seq if p.HasField("seq") else None
        self.timestamp = p.timestamp if p.HasField("timestamp") else None
        if self.type == "NBIRTH":
            aliases.clear()  # a new birth of the node starts its table afresh
        for m in p.metrics:
            alias = m.alias if m.HasField("alias") else None
            name = m.name if m.HasField("name") else None
            if self.type in ("NBIRTH", "DBIRTH") and alias is not None and name is not None:
                aliases[alias] = name
            self.metrics.append({
                "name": name if name is not None else aliases.get(alias),
                "wire_name": name is not None,
                "alias": alias,
                "timestamp": m.timestamp if m.HasField("timestamp") else self.timestamp,
                "has_timestamp": m.HasField("timestamp"),
                "datatype": m.datatype,
                "value": metric_value(m),
                "field": m.WhichOneof("value"),
                "is_historical": bool(m.is_historical),
                "device": self.device,
            })

    def metric(self, name):
        """The first metric with this name, or None."""
        for m in self.metrics:
            if m["name"] == name:
                return m
        return None

    def __repr__(self):
        return "<%d %s seq=%s ts=%s %d metrics>" % (self.index, self.topic, self.seq, self.timestamp,
                                                    len(self.metrics))


class SparkplugSubscriber:
    def __init__(self, host, port, client_id=None, clean_session=True, username=None, password=None,
                 extra_topics=("test/#",)):
        self.host = host
        self.port = port
        self.client_id = client_id or "it-sub-" + uuid.uuid4().hex[:8]
        self.clean_session = clean_session
        self.extra_topics = list(extra_topics)
        self._cond = threading.Condition()
        self._messages = []
        self._aliases = {}  # (group, edge) -> {alias: name}
        self._subscribed = 0
        self._connects = 0
        self.client = mqtt.Client(client_id=self.client_id, clean_session=clean_session,
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- paho callbacks (network thread) ------------------------------------------------
    def _on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            return
        with self._cond:
            self._connects += 1
            self._cond.notify_all()
        topics = [("spBv1.0/#", 1)] + [(t, 1) for t in self.extra_topics]
        client.subscribe(topics)

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        with self._cond:
            self._subscribed += 1
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self._cond:
            parts = msg.topic.split("/")
            table = self._aliases.setdefault(tuple(parts[1:2] + parts[3:4]), {})
            self._messages.append(Message(len(self._messages), msg.topic, msg.payload, msg.retain, table))
            self._cond.notify_all()

    # -- test thread ---------------------------------------------------------------------
    def start(self, timeout=10.0):
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._wait(lambda: self._subscribed >= 1, timeout, "subscriber connected and subscribed")
        return self

    def stop(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    @property
    def subscriptions(self):
        with self._cond:
            return self._subscribed

    def wait_resubscribed(self, count, timeout):
        """Waits until the subscriber has (re)subscribed `count` times in all."""
        self._wait(lambda: self._subscribed >= count, timeout, "subscriber subscribed %d times" % count)

    def _wait(self, pred, timeout, what):
        with self._cond:
            if not self._cond.wait_for(pred, timeout):
                raise AssertionError("timed out after %.0f s waiting for: %s" % (timeout, what))

    def snapshot(self):
        with self._cond:
            return list(self._messages)

    def count(self):
        with self._cond:
            return len(self._messages)

    def wait_for(self, predicate, timeout, what="condition"):
        """Waits until predicate(messages) is truthy; returns its value. The predicate
        runs under the lock on the list as it is (do not keep a reference to it)."""
        result = [None]

        def check():
            result[0] = predicate(self._messages)
            return bool(result[0])
        with self._cond:
            if not self._cond.wait_for(check, timeout):
                raise AssertionError("timed out after %.0f s waiting for: %s (%d messages so far)"
                                     % (timeout, what, len(self._messages)))
        return result[0]

    def assert_none_for(self, predicate, seconds, what):
        """Asserts predicate(messages) stays false for `seconds`: a negative condition
        can only be observed over a window."""
        with self._cond:
            if self._cond.wait_for(lambda: bool(predicate(self._messages)), seconds):
                raise AssertionError("unexpected: %s" % what)

    def barrier(self, timeout=10.0):
        """Round trip through the broker: returns once a message we publish now has come
        back, so everything the broker delivered to us before it is recorded."""
        token = "test/barrier/" + uuid.uuid4().hex
        self.client.publish(token, b"x", qos=1)
        self.wait_for(lambda msgs: any(m.topic == token for m in msgs), timeout, "barrier " + token)

    # -- commands ------------------------------------------------------------------------
    def publish_rebirth(self, group, edge):
        p = Payload()
        p.timestamp = int(time.time() * 1000)
        m = p.metrics.add()
        m.name = "Node Control/Rebirth"
        m.timestamp = p.timestamp
        m.datatype = 11
        m.boolean_value = True
        info = self.client.publish("spBv1.0/%s/NCMD/%s" % (group, edge), p.SerializeToString(), qos=0)
        info.wait_for_publish()

    def publish_alarm_ack(self, group, edge, facility, alarm_id, by=None):
        """The host's DCMD alarms/acknowledge (docs/wire-format.md, "Alarms")."""
        p = Payload()
        p.timestamp = int(time.time() * 1000)
        for name, value in (("alarms/acknowledge", alarm_id), ("alarms/acknowledged_by", by)):
            if value is None:
                continue
            m = p.metrics.add()
            m.name = name
            m.timestamp = p.timestamp
            m.datatype = 12
            m.string_value = value
        info = self.client.publish("spBv1.0/%s/DCMD/%s/%s" % (group, edge, facility), p.SerializeToString(), qos=1)
        info.wait_for_publish()

    def publish_state(self, host_id, online, timestamp_ms=None, retain=True):
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        body = json.dumps({"online": bool(online), "timestamp": ts}).encode()
        info = self.client.publish("spBv1.0/STATE/%s" % host_id, body, qos=1, retain=retain)
        info.wait_for_publish()
        return ts


def alarm_rows(messages, device=None):
    """Every alarms/events row received (DDATA and DBIRTH), in arrival order, each with
    the message's type, its arrival time (monotonic) and the metric's timestamp."""
    out = []
    for m in messages:
        if m.type not in ("DDATA", "DBIRTH") or (device and m.device != device):
            continue
        for x in m.metrics:
            if x["name"] == "alarms/events":
                for row in x["value"]:
                    out.append(dict(row, _type=m.type, _arrived=m.arrived, _ts=x["timestamp"],
                                    _historical=x["is_historical"], _device=m.device))
    return out


def by_type(messages, *types):
    return [m for m in messages if m.type in types]


def readings(messages, types=("DDATA",)):
    """{(device, name): [metric dict with 'index' of its message], ...} in arrival order."""
    out = {}
    for msg in messages:
        if msg.type not in types:
            continue
        for m in msg.metrics:
            d = dict(m)
            d["index"] = msg.index
            out.setdefault((msg.device, m["name"]), []).append(d)
    return out


def latest(msgs, device, name):
    """The last reading of (device, metric name) received in DDATA, or None."""
    got = readings(msgs).get((device, name))
    return got[-1] if got else None


def value_is(device, name, value):
    """A wait_for predicate: the last reading of (device, name) has this value."""
    def pred(msgs):
        m = latest(msgs, device, name)
        return m is not None and m["value"] == value
    return pred


def check_seq(messages):
    """Problems with seq: NBIRTH has 0 and every later NBIRTH/DBIRTH/NDATA/DDATA/DDEATH of
    the session has the previous + 1 mod 256. Returns a list of strings."""
    problems = []
    prev = None
    for msg in messages:
        if msg.type not in SEQ_TYPES:
            continue
        if msg.seq is None:
            problems.append("%r has no seq" % msg)
            continue
        if msg.type == "NBIRTH":
            if msg.seq != 0:
                problems.append("%r: NBIRTH seq %d != 0" % (msg, msg.seq))
            prev = msg.seq
            continue
        if prev is None:
            problems.append("%r before any NBIRTH" % msg)
        elif msg.seq != (prev + 1) % 256:
            problems.append("%r: seq %d after %d" % (msg, msg.seq, prev))
        prev = msg.seq
    return problems


class Coverage:
    """Incremental predicate for wait_for: true once every (device, metric) of `keys` has
    arrived in DDATA at every timestamp of `want_ts`. Keeps a cursor so each message is
    looked at once, however often the condition is re-checked."""

    def __init__(self, keys, want_ts):
        self.keys = set(keys)
        self.want = set(want_ts)
        self.missing = {k: set(self.want) for k in self.keys}
        self.open = len(self.keys) * len(self.want)
        self.pos = 0
        self.max_ts = None

    def __call__(self, msgs):
        for msg in msgs[self.pos:]:
            if msg.type != "DDATA":
                continue
            for m in msg.metrics:
                key = (msg.device, m["name"])
                if key not in self.keys:
                    continue
                if self.max_ts is None or m["timestamp"] > self.max_ts:
                    self.max_ts = m["timestamp"]
                miss = self.missing[key]
                if m["timestamp"] in miss:
                    miss.discard(m["timestamp"])
                    self.open -= 1
        self.pos = len(msgs)
        return self.open == 0

    def reached(self, ts):
        """A predicate: some raw reading with a timestamp >= ts has arrived."""
        def pred(msgs):
            self(msgs)
            return self.max_ts is not None and self.max_ts >= ts
        return pred


def dedup_redelivered(messages):
    """Drops messages the broker delivered twice (same topic and bytes), as a persistent
    session does after a broker restart; a gateway's own re-send has a new seq and stays."""
    seen = set()
    out = []
    for m in messages:
        key = (m.topic, m.raw)
        if key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out
