"""Disk cap: with the broker away from the start and a tiny buffer.max_disk_mb, the buffer
overflows; the gateway keeps running, drops the OLDEST readings and counts them in the
node metric buffer/dropped; once the broker is back, the rest arrives.

What is exactly countable from the platform's side: the streams that the gateway emits
once per sample at the grid timestamps, i.e. every raw sensor point and the
door-counter-fed occupancy/current, occupancy/ratio and visits/entries. For those, the
readings that never arrived are (grid x stream) minus what arrived. The other derived
metrics (occupancy/capacity, status/open, sensors/*/online, ...) are emitted at start-up
and on change, so how many of them the cap dropped cannot be read off the wire. In
this run they are bounded: each derived metric once at start-up, plus each sensor's
online flag turning true on its first sample (always open, no dropouts, one local day,
sampling slower than the gateway commits). So:
    missing(countable) <= buffer/dropped <= missing(countable) + derived names + sensors
and the missing readings of each countable stream are a prefix of the grid.
"""

import checks
from helpers import base_config, door_fed_metrics, grid, print_summary, raw_metrics
from sparkplug import by_type, readings

GROUP, EDGE = "huacao", "gw-cap"
# 10 samples/s, 09:00-11:47 local. The rate stays well below what the gateway commits
# (one sample per group commit): a simulator behind its clock would see its sensors
# as silent and its samples as late, which is another test. (At 20 samples/s a CI run
# on a loaded 2-core machine once saw three more derived rows dropped than the bound
# below allows: sensors flagged silent and back.)
START, INTERVAL_S, SPEED, N = "2024-07-01T09:00", 10, 100, 1000
MAX_DISK_MB = 0.25

# Six door counters: 12 raw + 3 derived readings per sample, so 1000 samples overflow
# the cap (about 28 bytes a reading on disk) by about half.
FACILITIES = [
    {"id": "canteen-3", "type": "canteen", "name": "Town centre canteen", "capacity": 120,
     "sensors": [{"id": "door-%d" % i, "kind": "door_counter"} for i in range(1, 7)]},
]


def node_values(msgs, name):
    return [(msg.index, msg.type, m["value"]) for msg in msgs if msg.type in ("NBIRTH", "NDATA")
            for m in msg.metrics if m["name"] == name]


def test_disk_cap_drops_oldest(tmp_path, make_broker, make_subscriber, make_gateway):
    # The platform's persistent session exists before the outage, so nothing published
    # after the broker comes back is missed, whoever reconnects first.
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-" + EDGE, clean_session=False)
    broker.stop()

    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=N, buffer={"max_disk_mb": MAX_DISK_MB},
                      uplink={"reconnect": {"min_ms": 200, "max_ms": 1000}})
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"buffer at its disk cap", 120)
    gw.wait_log(r"produced the %d samples" % N, 180)
    assert gw.running(), "gateway died at its disk cap"

    broker.start()
    sub.wait_resubscribed(2, 15)
    # Drained: a node report with buffer/depth 0 follows every DDATA of the backlog.
    sub.wait_for(lambda msgs: any(v == 0 for i, t, v in node_values(msgs, "buffer/depth")), 120,
                 "buffer/depth 0 after the backlog")
    assert gw.running(), "gateway exited"
    sub.barrier()
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    msgs = sub.snapshot()
    by_metric = readings(msgs)

    grid_ts = grid(START, INTERVAL_S, N)
    countable = dict(raw_metrics(FACILITIES))
    countable.update(door_fed_metrics(FACILITIES))
    missing, prefix_len, problems = 0, {}, []
    for key in countable:
        got = {m["timestamp"] for m in by_metric.get(key, [])}
        miss = [t for t in grid_ts if t not in got]
        missing += len(miss)
        prefix_len[key] = len(miss)
        if miss != grid_ts[:len(miss)]:
            problems.append("%s/%s: missing readings are not the oldest: first missing %s, received %s"
                            % (key[0], key[1], miss[:3], sorted(got)[:3]))
    received = sum(len(by_metric.get(k, [])) for k in countable)
    for key, ms in sorted(by_metric.items()):
        ts = sorted(m["timestamp"] for m in ms)
        print("disk_cap: %s/%s: %d received, first %s, last %s, on grid %d" % (
            key[0], key[1], len(ms), ts[0] if ts else None, ts[-1] if ts else None,
            len(set(ts) & set(grid_ts))))
    dbirth = [m for m in msgs if m.type == "DBIRTH"]
    # Derived metric names: each has one start-up reading, stamped at the start beside
    # the per-sample ones.
    derived_names = {m["name"] for msg in dbirth for m in msg.metrics} - {k[1] for k in raw_metrics(FACILITIES)}
    other_received = sum(len(ms) for k, ms in by_metric.items() if k not in countable)

    dropped = node_values(msgs, "buffer/dropped")
    assert dropped, "no buffer/dropped node metric"
    final = dropped[-1][2]
    birth_dropped = [v for i, t, v in dropped if t == "NBIRTH"]
    print_summary("disk_cap", countable_expected=len(countable) * N, countable_received=received,
                  countable_missing=missing, buffer_dropped=final, dropped_minus_missing=final - missing,
                  derived_names=len(derived_names), other_derived_received=other_received,
                  cutoff_samples=sorted(set(prefix_len.values())))

    assert missing > 0, "the cap dropped nothing: make MAX_DISK_MB smaller or N larger"
    assert received > 0
    assert birth_dropped and birth_dropped[0] == final, \
        "buffer/dropped in the NBIRTH %s, final %s" % (birth_dropped, final)
    assert max(prefix_len.values()) - min(prefix_len.values()) <= 1, \
        "streams cut at different samples: %s" % prefix_len
    slack = len(derived_names) + sum(len(f["sensors"]) for f in FACILITIES)
    assert missing <= final <= missing + slack, \
        "buffer/dropped %d vs %d countable readings missing (+ at most %d others)" % (final, missing, slack)
    problems += checks.check_types(msgs)
    problems += checks.check_births(msgs, FACILITIES)
    assert not problems, checks.report(problems)
    # What arrived after the cap is historical (the broker was never up when it was taken).
    live = [(k, m["timestamp"]) for k in countable for m in by_metric.get(k, []) if not m["is_historical"]]
    assert not live, "readings taken while the broker was down not historical: %s" % live[:5]
    assert len(by_type(msgs, "NBIRTH")) == 1
