"""End to end, fault free: simulator -> buffer -> Sparkplug B -> mosquitto -> platform.

Three facilities run 300 samples at 10 samples/s (interval 120 s, speed 1200, from
16:00 local so the run crosses local midnight). The platform side must see every raw
point at exactly the grid timestamps, once; typed values; derived occupancy and visits
that agree with the door counters; births that announce every metric; seq without a
gap; and after SIGTERM an NDEATH with the NBIRTH's bdSeq and exit code 0.
"""

import checks
from helpers import base_config, count_pairs, door_fed_metrics, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, check_seq, readings

GROUP, EDGE = "huacao", "gw-e2e"
START, INTERVAL_S, SPEED, N = "2024-03-04T16:00", 120, 1200, 300

FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "Huacao elderly canteen", "capacity": 80,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "charge-1", "type": "charging_station", "name": "Car park P3", "capacity": 4,
     "sensors": [{"id": "cp-1", "kind": "charge_point", "connectors": 4, "max_power_kw": 7}]},
    {"id": "fit-1", "type": "fitness_point", "name": "Riverside fitness point", "capacity": 30,
     "sensors": [{"id": "gate-1", "kind": "door_counter"}, {"id": "bike-1", "kind": "equipment"},
                 {"id": "rower-1", "kind": "equipment"}]},
]


def test_end_to_end(tmp_path, broker, make_subscriber, make_gateway):
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=N)
    gw = make_gateway(cfg, [broker.uri])
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(FACILITIES)
    want = set(grid_ts)
    sub.wait_for(Coverage(raw, grid_ts), 30 + N / (SPEED / INTERVAL_S),
                 "every raw metric at every grid timestamp")
    assert gw.running(), "gateway exited during the run"

    rc = gw.terminate(timeout=30)
    sub.wait_for(lambda msgs: any(m.type == "NDEATH" for m in msgs), 15, "NDEATH after SIGTERM")
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)

    # Counts.
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    all_dups = sum(len(ms) - len({m["timestamp"] for m in ms}) for ms in by_metric.values())
    dup_keys = sorted({k for k, ms in by_metric.items() if len(ms) != len({m["timestamp"] for m in ms})})
    if dup_keys:
        print("end_to_end: metrics with a timestamp seen twice (same value, derived): %s" % dup_keys)
    extra = {k: sorted({m["timestamp"] for m in ms} - want) for k, ms in by_metric.items() if k in raw}
    extra = {k: v for k, v in extra.items() if v}
    print_summary("end_to_end", raw_expected=exp, raw_received=got, raw_duplicates=dups,
                  all_duplicates=all_dups, messages=len(msgs), ddata=len(by_type(msgs, "DDATA")))
    assert not missing, "raw readings missing: %s" % {k: v[:5] for k, v in missing.items()}
    assert dups == 0, "%d duplicated raw readings in a fault-free run" % dups
    assert not extra, "raw readings off the grid: %s" % {k: v[:5] for k, v in extra.items()}
    assert got == exp == len(raw) * N

    problems = []
    problems += checks.check_types(msgs)
    problems += checks.check_raw_types(by_metric, FACILITIES)
    problems += checks.check_raw_values(by_metric, FACILITIES)
    problems += checks.check_births(msgs, FACILITIES)
    problems += checks.check_ddata_order(msgs)
    problems += checks.conflicting_duplicates(by_metric)
    problems += check_seq(msgs)
    door_problems, checked = checks.check_door_metrics(by_metric, FACILITIES, grid_ts)
    problems += door_problems
    print_summary("end_to_end derived", door_fed_checked=checked,
                  door_fed_metrics=len(door_fed_metrics(FACILITIES)))

    # One session: one NBIRTH, then one DBIRTH per facility before any DDATA.
    nbirths = by_type(msgs, "NBIRTH")
    ndeaths = by_type(msgs, "NDEATH")
    assert len(nbirths) == 1, "fault-free run had %d NBIRTHs" % len(nbirths)
    seq_msgs = [m for m in msgs if m.type in ("NBIRTH", "DBIRTH", "DDATA", "NDATA")]
    first_ddata = next(i for i, m in enumerate(seq_msgs) if m.type == "DDATA")
    born = [m.device for m in seq_msgs[:first_ddata] if m.type == "DBIRTH"]
    assert sorted(born) == sorted(f["id"] for f in FACILITIES), "DBIRTHs before data: %s" % born

    # bdSeq: the NDEATH sent at shutdown is the NBIRTH's.
    assert len(ndeaths) == 1, "NDEATHs: %s" % ndeaths
    bd_birth = nbirths[0].metric("bdSeq")["value"]
    bd_death = ndeaths[0].metric("bdSeq")
    assert bd_death is not None, "NDEATH without bdSeq"
    assert bd_death["datatype"] == 8 and bd_death["value"] == bd_birth, \
        "NDEATH bdSeq %s != NBIRTH bdSeq %s" % (bd_death, bd_birth)
    assert ndeaths[0].index > max(m.index for m in by_type(msgs, "DDATA"))

    # Live data is live: what was sampled after the NBIRTH is not historical.
    nb_ts = nbirths[0].timestamp
    late_hist = [(k, m["timestamp"]) for k, ms in by_metric.items() for m in ms
                 if m["is_historical"] and m["timestamp"] > nb_ts + INTERVAL_S * 1000]
    if late_hist:
        problems.append("%d readings sampled after the NBIRTH flagged historical, e.g. %s"
                        % (len(late_hist), late_hist[:3]))

    # buffer/depth ends at 0 and nothing was dropped.
    node = [m for msg in msgs if msg.type in ("NBIRTH", "NDATA") for m in msg.metrics]
    dropped = [m["value"] for m in node if m["name"] == "buffer/dropped"]
    assert dropped and dropped[-1] == 0, "buffer/dropped %s" % dropped[-3:]

    assert not problems, checks.report(problems)
