"""Power cut: SIGKILL the gateway at random moments mid-stream and start it again on the
same data_dir. Whatever the gateway accepted must reach the platform at least once
(at-least-once delivery: duplicates are counted and printed, not bounded), the
simulator must resume the grid without a hole, the facility state must not count a
door-counter delta twice, and every new connection must have a larger bdSeq.
"""

import os
import random
import time

import checks
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, readings

GROUP, EDGE = "huacao", "gw-kill"
START, INTERVAL_S, SPEED, N = "2024-06-03T06:30", 60, 600, 400  # 10 samples/s
KILLS = 5

FACILITIES = [
    {"id": "station-1", "type": "elderly_station", "name": "Day-care centre", "capacity": 40,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "checkin-1", "kind": "checkin_terminal"},
                 {"id": "room-1", "kind": "occupancy"}, {"id": "seat-1", "kind": "seat"}]},
    {"id": "fit-2", "type": "fitness_point", "name": "Sports park gate", "capacity": 25,
     "sensors": [{"id": "gate-1", "kind": "door_counter"}, {"id": "bike-1", "kind": "equipment"}]},
    {"id": "charge-3", "type": "charging_station", "name": "Public car park", "capacity": 2,
     "sensors": [{"id": "dc-1", "kind": "charge_point", "connectors": 2, "max_power_kw": 60}]},
]


def test_kill_restart(tmp_path, broker, make_subscriber, make_gateway):
    seed = int(os.environ.get("IT_SEED", time.time_ns() % 1000000))
    rnd = random.Random(seed)
    print("kill_restart: random seed %d (set IT_SEED to replay)" % seed)
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=N)
    gw = make_gateway(cfg, [broker.uri], start=False)
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(FACILITIES)
    cov = Coverage(raw, grid_ts)

    kill_log = []
    for i in range(KILLS):
        mark = sub.count()
        gw.start()
        if i % 2 == 0:
            # Mid-stream: connected and publishing.
            sub.wait_for(lambda msgs: by_type(msgs[mark:], "NBIRTH"), 20, "NBIRTH of run %d" % (i + 1))
            delay = rnd.uniform(0.3, 2.5)
        else:
            # Anywhere, including during start-up and the first connect.
            delay = rnd.uniform(0.05, 2.0)
        time.sleep(delay)  # the moment of the power cut, chosen at random: not a wait
        assert gw.running(), "gateway exited by itself in run %d" % (i + 1)
        cov(sub.snapshot())
        gw.kill()
        kill_log.append((round(delay, 2), cov.max_ts))
    gw.start()
    sub.wait_for(cov, 30 + N / (SPEED / INTERVAL_S), "every raw metric at every grid timestamp")
    mark = sub.count()
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.wait_for(lambda msgs: any(m.type == "NDEATH" for m in msgs[mark:]), 15, "NDEATH of the last run")
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)

    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    all_dups = sum(len(ms) - len({m["timestamp"] for m in ms}) for ms in by_metric.values())
    beyond = sum(1 for k in raw for m in by_metric.get(k, []) if m["timestamp"] > grid_ts[-1])
    print("kill_restart: kills (delay s, newest raw ts on the wire): %s" % kill_log)
    print_summary("kill_restart", raw_expected=exp, raw_received=got, raw_duplicates=dups,
                  all_duplicates=all_dups, raw_beyond_grid=beyond, starts=gw.starts,
                  nbirths=len(by_type(msgs, "NBIRTH")), exit_codes=gw.exit_codes)
    assert not missing, "raw readings never arrived: %s" % {k: v[:5] for k, v in missing.items()}

    problems = []
    problems += checks.check_types(msgs)
    problems += checks.check_births(msgs, FACILITIES)
    problems += checks.conflicting_duplicates(by_metric)
    door, _ = checks.check_door_metrics(by_metric, FACILITIES, grid_ts)
    problems += door
    off_grid = {k: sorted({m["timestamp"] for m in by_metric.get(k, [])
                           if (m["timestamp"] - grid_ts[0]) % (INTERVAL_S * 1000)}) for k in raw}
    off_grid = {k: v for k, v in off_grid.items() if v}
    if off_grid:
        problems.append("raw readings off the grid: %s" % {k: v[:3] for k, v in off_grid.items()})

    # bdSeq grows with every connection, and each connection's will carries its bdSeq.
    nbirths = by_type(msgs, "NBIRTH")
    bds = [m.metric("bdSeq")["value"] for m in nbirths]
    assert len(nbirths) >= KILLS // 2 + 2, "only %d NBIRTHs over %d starts" % (len(nbirths), gw.starts)
    for a, b in zip(bds, bds[1:]):
        if not b > a:
            problems.append("bdSeq did not grow: %s" % bds)
            break
    ndeath_bds = [m.metric("bdSeq")["value"] for m in by_type(msgs, "NDEATH") if m.metric("bdSeq")]
    for nb, bd in zip(nbirths, bds):
        if not any(d.metric("bdSeq") and d.metric("bdSeq")["value"] == bd and d.index > nb.index
                   for d in by_type(msgs, "NDEATH")):
            problems.append("no NDEATH (will) with bdSeq %d after %r" % (bd, nb))
    print("kill_restart: NBIRTH bdSeqs %s, NDEATH bdSeqs %s" % (bds, ndeath_bds))
    assert not problems, checks.report(problems)
