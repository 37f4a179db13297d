"""Power cut exactly at a group commit: the gateway runs with tests/fault/kill_at_fsync
preloaded, which SIGKILLs it at a chosen fsync of the SQLite WAL, just before the sync
(commit written, not durable, not acknowledged) or just after it (durable, not yet
acknowledged). Meanwhile the simulator streams its grid and an HTTP client posts
numbered probe readings, remembering which were answered 202.

After the cycles a clean start must deliver every probe that was acknowledged, every
simulator sample of the grid, and door-counter metrics that count no delta twice; the
only allowed surplus is duplicates (at-least-once) and probes that were committed but
never acknowledged (the cut came after the sync).
"""

import os
import random
import time

import checks
from gateway import preload_env
from helpers import base_config, count_pairs, free_port, grid, print_summary, raw_metrics, wait_until
from probes import Poster
from sparkplug import Coverage, readings

GROUP, EDGE = "huacao", "gw-commit-kill"
TOKEN = "commit-kill-token"
START, INTERVAL_S, SPEED, N = "2024-06-03T07:00", 60, 600, 300  # 10 samples/s
CYCLES = 6

SIM_FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 40,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
]
HTTP_FACILITY = {"id": "station-2", "type": "elderly_station", "name": "Station", "capacity": 30,
                 "sensors": [{"id": "probe-1", "kind": "occupancy", "driver": "http"}]}


def test_commit_kill(tmp_path, broker, make_subscriber, make_gateway):
    lib = os.environ.get("GATEWAY_FAULT_LIB")
    assert lib and os.path.exists(lib), "GATEWAY_FAULT_LIB not built (run through ctest)"
    seed = int(os.environ.get("IT_SEED", time.time_ns() % 1000000))
    rnd = random.Random(seed)
    print("commit_kill: random seed %d (set IT_SEED to replay)" % seed)

    port = free_port()
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", SIM_FACILITIES + [HTTP_FACILITY], start=START,
                      interval_s=INTERVAL_S, speed=SPEED, max_samples=N)
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN}}
    gw = make_gateway(cfg, [broker.uri], start=False)
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(SIM_FACILITIES)
    # No timestamps on the probes: the gateway's clock is the simulator's (2024).
    poster = Poster(port, TOKEN)
    poster.start()

    cuts = []
    for i in range(CYCLES):
        at = rnd.randint(3, 60)
        when = rnd.choice(["before", "after"])
        gw.env = preload_env(lib, GATEWAY_KILL_AT_FSYNC=at, GATEWAY_KILL_WHEN=when)
        gw.start()
        rc = gw.wait_exit(60)
        assert rc is not None, "cycle %d: the seam did not fire within 60 s (WAL sync %d)" % (i + 1, at)
        assert rc == -9, "cycle %d: gateway exited with %s, not by the cut" % (i + 1, rc)
        assert gw.log_count(r"kill_at_fsync: power cut at a WAL commit") == 1
        cuts.append((at, when, len(poster.acked)))

    gw.env = {}
    gw.start()
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    # Some probes are accepted by the clean run too, so the last run is also checked.
    assert wait_until(lambda: len(poster.acked) >= cuts[-1][2] + 20 or poster.error, 30), \
        "the clean run acknowledged no probes"
    poster.stop.set()
    poster.join(10)
    assert poster.error is None, poster.error
    acked = set(poster.acked)

    cov = Coverage(raw, grid_ts)
    probe_key = ("station-2", "sensors/probe-1/probe")

    def all_there(msgs):
        done = cov(msgs)
        got = {int(m["value"]) for m in readings(msgs).get(probe_key, [])}
        return done and acked <= got
    sub.wait_for(all_there, 60 + N / (SPEED / INTERVAL_S), "every grid sample and every acknowledged probe")
    rc = gw.terminate(timeout=30)
    assert rc == 0
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)

    probes = [int(m["value"]) for m in by_metric.get(probe_key, [])]
    delivered = set(probes)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    print("commit_kill: HTTP answers %s" % poster.codes)
    print("commit_kill: cuts (WAL sync no., before/after, probes acked so far): %s" % cuts)
    print_summary("commit_kill", cuts=len(cuts), cuts_before_sync=sum(1 for c in cuts if c[1] == "before"),
                  probes_sent=poster.sent, probes_acked=len(acked), probes_delivered=len(delivered),
                  probes_acked_lost=len(acked - delivered), probes_unacked_delivered=len(delivered - acked),
                  probe_duplicates=len(probes) - len(delivered), raw_expected=exp, raw_received=got,
                  raw_duplicates=dups)
    assert not (acked - delivered), "acknowledged probes lost: %s" % sorted(acked - delivered)[:20]
    assert not missing, "grid samples lost: %s" % {k: v[:5] for k, v in missing.items()}
    problems = checks.conflicting_duplicates(by_metric)
    door, _ = checks.check_door_metrics(by_metric, SIM_FACILITIES, grid_ts)
    problems += door
    assert not problems, checks.report(problems)
