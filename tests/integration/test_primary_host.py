"""Primary host awareness (Sparkplug 3.0 STATE): with uplink.primary_host_id set, the
gateway publishes no births and no data until spBv1.0/STATE/{id} says online; then it
publishes its births and the backlog flagged historical. When the host goes offline the
data stops (and is buffered); when it returns, births again and the rest, historical.
"""

import checks
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, readings

GROUP, EDGE, HOST = "huacao", "gw-host", "city-platform"
START, INTERVAL_S, SPEED, N = "2024-03-05T07:00", 60, 600, 450  # 10 samples/s
STEP = INTERVAL_S * 1000

FACILITIES = [
    {"id": "station-5", "type": "elderly_station", "name": "Doorstep elderly station", "capacity": 30,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "checkin-1", "kind": "checkin_terminal"}]},
    {"id": "charge-5", "type": "charging_station", "name": "Residential piles", "capacity": 2,
     "sensors": [{"id": "cp-1", "kind": "charge_point", "connectors": 2, "max_power_kw": 7}]},
]

BIRTH_OR_DATA = ("NBIRTH", "DBIRTH", "DDATA", "NDATA")


def test_primary_host(tmp_path, broker, make_subscriber, make_gateway):
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=N, uplink={"primary_host_id": HOST})
    gw = make_gateway(cfg, [broker.uri])
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(FACILITIES)
    cov = Coverage(raw, grid_ts)

    # Host unknown: connected, sampling, but silent.
    gw.wait_log(r"uplink: connected to", 15)
    sub.assert_none_for(lambda msgs: by_type(msgs, *BIRTH_OR_DATA), 3.0,
                        "births or data before the primary host's STATE")
    sub.barrier()
    early = by_type(sub.snapshot(), *BIRTH_OR_DATA)
    assert not early, "published before STATE online: %s" % early[:3]

    # Host online: births, then the backlog (historical), then live data.
    mark1 = sub.count()
    t_state = sub.publish_state(HOST, True)
    sub.wait_for(lambda msgs: by_type(msgs[mark1:], "NBIRTH"), 10, "NBIRTH after STATE online")
    nb1 = by_type(sub.snapshot()[mark1:], "NBIRTH")[0]
    sub.wait_for(cov.reached(nb1.timestamp + 20 * STEP), 30, "live data after the births")

    # Host offline: data stops.
    sub.publish_state(HOST, False, timestamp_ms=t_state + 1000)
    gw.wait_log(r"primary host %s is offline" % HOST, 10)
    sub.barrier()
    mark2 = sub.count()
    cov(sub.snapshot())
    t_off = cov.max_ts
    sub.assert_none_for(lambda msgs: by_type(msgs[mark2:], "DDATA"), 3.0,
                        "DDATA while the primary host is offline")
    assert gw.running()

    # Host back: births again and the rest.
    mark3 = sub.count()
    sub.publish_state(HOST, True, timestamp_ms=t_state + 2000)
    sub.wait_for(lambda msgs: by_type(msgs[mark3:], "NBIRTH"), 10, "NBIRTH after the host returned")
    sub.wait_for(cov, 60, "every raw metric at every grid timestamp")
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    msgs = sub.snapshot()
    nb3 = by_type(msgs[mark3:], "NBIRTH")[0]
    by_metric = readings(msgs)

    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    problems = []
    backlog1 = backlog3 = 0
    for key in raw:
        for m in by_metric[key]:
            t, hist = m["timestamp"], m["is_historical"]
            if m["index"] < nb3.index:  # first online period
                if t < nb1.timestamp - STEP:
                    backlog1 += 1
                    if not hist:
                        problems.append("%s/%s at %d (before the host came online) not historical" % (key + (t,)))
                elif t > nb1.timestamp + STEP and hist:
                    problems.append("%s/%s at %d (live) flagged historical" % (key + (t,)))
            else:  # after the host returned
                if t_off < t < nb3.timestamp - STEP:
                    backlog3 += 1
                    if not hist:
                        problems.append("%s/%s at %d (host offline) not historical" % (key + (t,)))
                elif t > nb3.timestamp + STEP and hist:
                    problems.append("%s/%s at %d (live) flagged historical" % (key + (t,)))
    print_summary("primary_host", raw_expected=exp, raw_received=got, raw_duplicates=dups,
                  backlog_before_online=backlog1, backlog_while_offline=backlog3)
    assert not missing, "raw readings missing: %s" % {k: v[:5] for k, v in missing.items()}
    assert backlog1 >= len(raw) * 20, "too little backlog before STATE online: %d" % backlog1
    assert backlog3 >= len(raw) * 20, "too little backlog while the host was offline: %d" % backlog3
    problems += checks.check_births(msgs, FACILITIES) + checks.check_types(msgs)
    assert not problems, checks.report(problems)
