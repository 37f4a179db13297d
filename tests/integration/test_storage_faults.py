"""Storage and process faults: the disk filling up under the buffer, the buffer file
corrupted or truncated between runs, and SIGKILL while a backlog is being drained.

- Disk full (the data directory on a small tmpfs the test mounts): new readings are
  refused with a clear error while 8 MiB are still free, the simulator is told its
  readings were not accepted and offers them again (the documented refusal: nothing is
  half-accepted), the gateway keeps running, and once the uplink drains the buffer and
  frees space, every reading arrives.
- Corrupt or truncated buffer: the next start moves the file aside with a clear log
  line, starts a fresh buffer and serves again without a human; no crash loop.
- SIGKILL during a drain: after each restart the drain goes on from the oldest
  unacknowledged reading; nothing accepted is lost.
"""

import os
import random
import subprocess
import time

import pytest

import checks
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, readings

START, INTERVAL_S = "2024-09-02T09:00", 60
FACILITIES = [
    {"id": "canteen-12", "type": "canteen", "name": "Market canteen", "capacity": 80,
     "sensors": [{"id": "door-%d" % i, "kind": "door_counter"} for i in range(1, 13)]
     + [{"id": "meal-1", "kind": "meal_terminal"}]},
]


def _config(data_dir, edge, n, speed=600, **buffer):
    return base_config("storage", edge, data_dir, FACILITIES, start=START, interval_s=INTERVAL_S, speed=speed,
                       max_samples=n, buffer=buffer or None,
                       uplink={"reconnect": {"min_ms": 200, "max_ms": 1000}})


def _complete(title, sub, grid_ts, **extra):
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw_metrics(FACILITIES))
    print_summary(title, raw_expected=exp, raw_received=got, raw_duplicates=dups,
                  lost=sum(map(len, missing.values())), **extra)
    assert not missing, "raw readings lost: %s" % {k: v[:5] for k, v in missing.items()}
    problems = checks.conflicting_duplicates(by_metric) + checks.check_types(msgs)
    assert not problems, checks.report(problems)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "small-disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(d)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + r.stdout.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def test_disk_full(tmp_path, small_disk, make_broker, make_subscriber, make_gateway):
    n = 2500
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-full", clean_session=False)
    broker.stop()
    # The configured cap is far above what the disk holds: the disk fills first, and
    # new readings are refused while 8 MiB are still free (room to checkpoint the WAL
    # and write the deletes).
    gw = make_gateway(_config(small_disk / "data", "gw-full", n, speed=3000, max_disk_mb=100), [broker.uri])
    gw.wait_log(r"outbox: the disk holding \S+ has less than \d+ bytes free; refusing new readings", 90)
    gw.wait_log(r"simulator: batch of \d+ readings not accepted", 10)
    assert gw.running(), "the gateway died when the disk filled"
    broker.start()
    sub.wait_resubscribed(2, 15)
    grid_ts = grid(START, INTERVAL_S, n)
    sub.wait_for(Coverage(raw_metrics(FACILITIES), grid_ts), 120, "every raw reading after the disk freed up")
    rc = gw.terminate(timeout=30)
    assert rc == 0
    refused = gw.log_count(r"simulator: batch of \d+ readings not accepted")
    assert refused > 0
    _complete("disk_full", sub, grid_ts, refused_batches=refused)


@pytest.mark.parametrize("damage", ["scribbled", "truncated"])
def test_damaged_buffer(tmp_path, broker, make_subscriber, make_gateway, damage):
    n1, n2 = 300, 100
    data = tmp_path / "data"
    cfg = _config(data, "gw-" + damage, n1)
    cfg["uplink"]["brokers"] = ["tcp://127.0.0.1:1"]  # nowhere: everything stays in the buffer
    gw = make_gateway(cfg, [])
    gw.wait_log(r"produced the %d samples" % n1, 60)
    gw.kill()
    db = data / "buffer.db"
    size = db.stat().st_size
    assert size > 64 * 1024, "buffer too small to damage: %d bytes" % size
    with open(db, "r+b") as f:
        if damage == "truncated":
            f.truncate(size // 2)
        else:
            f.seek(size // 3)
            f.write(os.urandom(16 * 1024))
    wal = data / "buffer.db-wal"
    if wal.exists():
        wal.unlink()  # the damage must be in the main file, not papered over by the WAL

    # Started again, with a broker and a later start, on the damaged buffer.
    sub = make_subscriber(broker)
    cfg2 = _config(data, "gw-" + damage, n2)
    cfg2["simulator"]["start"] = "2024-09-03T09:00"
    gw2 = make_gateway(cfg2, [broker.uri], name="gateway-again")
    gw2.wait_log(r"buffer \S+ is corrupt .* moved aside to \S+", 20)
    aside = [p for p in os.listdir(data) if p.startswith("buffer.db.corrupt-")]
    assert aside, "the damaged file was not kept for recovery"
    grid2 = grid("2024-09-03T09:00", INTERVAL_S, n2)
    sub.wait_for(Coverage(raw_metrics(FACILITIES), grid2), 60, "the new run's readings")
    assert gw2.running()
    rc = gw2.terminate(timeout=30)
    assert rc == 0
    _complete("damaged_" + damage, sub, grid2, damaged_bytes=size, moved_aside=aside[0])


def test_kill_during_drain(tmp_path, make_broker, make_subscriber, make_gateway):
    seed = int(os.environ.get("IT_SEED", time.time_ns() % 1000000))
    rnd = random.Random(seed)
    print("kill_during_drain: random seed %d (set IT_SEED to replay)" % seed)
    n = 1500
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-drain", clean_session=False)
    broker.stop()
    # Small payloads and a narrow window: the drain takes many round trips to kill in.
    cfg = _config(tmp_path / "data", "gw-drain", n, speed=3000)
    cfg["uplink"].update({"max_metrics_per_payload": 20, "max_inflight": 2})
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"produced the %d samples" % n, 90)
    broker.start()
    sub.wait_resubscribed(2, 15)
    grid_ts = grid(START, INTERVAL_S, n)
    cov = Coverage(raw_metrics(FACILITIES), grid_ts)
    kills = 0
    for _ in range(5):
        gw.wait_log(r"uplink: NBIRTH", 30)
        time.sleep(rnd.uniform(0.05, 0.6))  # a random moment of the drain
        if cov(sub.snapshot()):
            break
        gw.kill()
        kills += 1
        gw.start()
    sub.wait_for(cov, 120, "every raw reading after %d kills during the drain" % kills)
    rc = gw.terminate(timeout=30)
    assert rc == 0
    assert kills >= 1, "the drain ended before the first kill"
    _complete("kill_during_drain", sub, grid_ts, kills=kills, seed=seed)
