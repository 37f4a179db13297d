"""Broker outage: the gateway buffers while the broker is down and sends the backlog,
oldest first and flagged historical, after it reconnects with a new bdSeq.

The broker keeps persistent sessions on disk and the platform's subscriber uses one,
so that whatever the gateway publishes right after the broker returns reaches the
subscriber even if the gateway reconnects first.
"""

import time

import checks
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, check_seq, dedup_redelivered, readings

GROUP, EDGE = "lingang", "gw-outage"
START, INTERVAL_S, SPEED = "2024-05-06T11:00", 60, 600  # 10 samples/s

FACILITIES = [
    {"id": "canteen-2", "type": "canteen", "name": "Lingang community canteen", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "charge-2", "type": "charging_station", "name": "Shared piles, block 7", "capacity": 2,
     "sensors": [{"id": "cp-1", "kind": "charge_point", "connectors": 2, "max_power_kw": 7}]},
]

OUTAGE_S = 5.0  # how long the broker stays down: the fault's duration, not a wait


def _start(tmp_path, make_broker, make_subscriber, make_gateway, n):
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-" + EDGE, clean_session=False)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=n, uplink={"reconnect": {"min_ms": 200, "max_ms": 1000}})
    gw = make_gateway(cfg, [broker.uri])
    return broker, sub, gw


def _finish(sub, gw, msgs_pred, timeout):
    sub.wait_for(msgs_pred, timeout, "every raw metric at every grid timestamp")
    assert gw.running(), "gateway exited"
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    return dedup_redelivered(sub.snapshot())


def _common_checks(msgs, grid_ts, title):
    raw = raw_metrics(FACILITIES)
    by_metric = readings(msgs)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    print_summary(title, raw_expected=exp, raw_received=got, raw_duplicates=dups, messages=len(msgs))
    assert not missing, "raw readings missing: %s" % {k: v[:5] for k, v in missing.items()}

    nbirths = by_type(msgs, "NBIRTH")
    assert len(nbirths) == 2, "NBIRTHs: %s" % nbirths
    reconnects = nbirths[1].metric("uplink/reconnects")
    assert reconnects is not None and reconnects["value"] >= 1, "uplink/reconnects %s" % reconnects

    problems = []
    # The gateway advances bdSeq on every connect attempt (it cannot know whether a
    # refused attempt got as far as a CONNECT packet), so across an outage it moves on by
    # at least one, modulo 256, and never repeats the previous session's value.
    bd = [m.metric("bdSeq")["value"] for m in nbirths]
    step = (bd[1] - bd[0]) % 256
    if step == 0:
        problems.append("bdSeq of the second NBIRTH %d equals the first" % bd[1])
    problems += checks.check_types(msgs)
    problems += checks.check_births(msgs, FACILITIES)
    problems += checks.conflicting_duplicates(by_metric)
    problems += check_seq(msgs)
    door, _ = checks.check_door_metrics(by_metric, FACILITIES, grid_ts)
    problems += door
    return by_metric, nbirths, problems


def test_outage_while_sampling(tmp_path, make_broker, make_subscriber, make_gateway):
    n = 250
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    broker, sub, gw = _start(tmp_path, make_broker, make_subscriber, make_gateway, n)
    cov = Coverage(raw, grid_ts)
    sub.wait_for(cov.reached(grid_ts[60]), 30, "sample 60 on the wire")

    broker.stop()
    before_stop = sub.count()
    gw.wait_log(r"buffering until it is back", 10)
    time.sleep(OUTAGE_S)
    assert gw.running()
    broker.start()
    sub.wait_resubscribed(2, 15)
    sub.wait_for(lambda msgs: len(by_type(msgs, "NBIRTH")) >= 2, 20, "second NBIRTH")
    msgs = _finish(sub, gw, cov, 60)

    by_metric, nbirths, problems = _common_checks(msgs, grid_ts, "broker_outage while sampling")
    # Session 1 is whatever arrived before the second NBIRTH (the broker may deliver part of
    # it only after its restart, from the persistent session, but still before the NBIRTH).
    nb2 = nbirths[1]
    assert before_stop <= nb2.index
    last_live = max(m["timestamp"] for key in raw for m in by_metric[key] if m["index"] < nb2.index)
    step = INTERVAL_S * 1000
    during = [t for t in grid_ts if last_live < t < nb2.timestamp - step]
    after = [t for t in grid_ts if t > nb2.timestamp + step]
    print_summary("broker_outage samples", before_outage=sum(t <= last_live for t in grid_ts),
                  during_outage=len(during), after_rebirth=len(after))
    assert len(during) >= 10, "the outage covered only %d samples" % len(during)
    assert after, "no sample after the reconnect: the test did not exercise live data after it"

    during_set, after_set = set(during), set(after)
    for key in raw:
        for m in by_metric[key]:
            if m["timestamp"] in during_set and not m["is_historical"]:
                problems.append("%s/%s at %d (during the outage) not historical" % (key[0], key[1], m["timestamp"]))
            if m["timestamp"] in after_set and m["is_historical"]:
                problems.append("%s/%s at %d (after the NBIRTH) flagged historical" % (key[0], key[1], m["timestamp"]))
            if m["index"] > nb2.index and m["timestamp"] < nb2.timestamp - step and not m["is_historical"]:
                problems.append("%s/%s at %d re-sent after the NBIRTH, not historical" % (key[0], key[1], m["timestamp"]))
    # Backlog oldest first: within the second session, per facility, the historical
    # readings come in timestamp order.
    last = {}
    for msg in msgs:
        if msg.type != "DDATA" or msg.index < nb2.index:
            continue
        for m in msg.metrics:
            if not m["is_historical"]:
                continue
            if m["timestamp"] < last.get(msg.device, 0):
                problems.append("%s: backlog out of order: %d after %d" % (msg.device, m["timestamp"], last[msg.device]))
            last[msg.device] = m["timestamp"]
    assert not problems, checks.report(problems)


def test_backlog_sent_without_new_data(tmp_path, make_broker, make_subscriber, make_gateway):
    n = 80
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    broker, sub, gw = _start(tmp_path, make_broker, make_subscriber, make_gateway, n)
    cov = Coverage(raw, grid_ts)
    sub.wait_for(cov.reached(grid_ts[10]), 30, "sample 10 on the wire")

    broker.stop()
    before_stop = sub.count()
    # Sampling ends while the broker is down: what follows the reconnect is backlog only.
    gw.wait_log(r"produced the %d samples" % n, 30)
    broker.start()
    sub.wait_resubscribed(2, 15)
    msgs = _finish(sub, gw, cov, 60)

    by_metric, nbirths, problems = _common_checks(msgs, grid_ts, "broker_outage backlog only")
    nb2 = nbirths[1]
    assert before_stop <= nb2.index
    live_ts = {m["timestamp"] for key in raw for m in by_metric[key] if m["index"] < nb2.index}
    backlog = 0
    for key in raw:
        for m in by_metric[key]:
            if m["index"] > nb2.index:
                backlog += 1
                if not m["is_historical"]:
                    problems.append("%s/%s at %d sent after the reconnect, not historical"
                                    % (key[0], key[1], m["timestamp"]))
    print_summary("broker_outage backlog", samples_live=len(live_ts & set(grid_ts)), backlog_readings=backlog)
    assert backlog >= len(raw) * (n - 20), "backlog of %d readings is too small" % backlog
    assert not problems, checks.report(problems)
