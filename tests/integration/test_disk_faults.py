"""A full or failing SD card never costs the buffer or stops the gateway for good
(issue: buffer on real small filesystems, I/O errors, power cuts).

- Restart on a card with less free space than the 8 MiB reserve, and with none at all:
  the gateway starts, drains and deletes; only new readings are refused (503 with
  Retry-After, counted as disk_full), and every reading answered 202 arrives.
- Bursts of EIO (0.3 s and 5 s, tests/fault/eio_inject preloaded) during commits and
  during a drain: nothing is moved aside, the gateway does not crash, /readyz says why it
  is not ready while the card fails and is ready again after, every 202 arrives.
- Power cuts (the ext4 shutdown ioctl, which drops what was not synced and fails every
  later I/O) while readings stream in: the gateway keeps running on the dead card until
  it is killed, the next start on the remounted card never tries to move the buffer
  aside, and every 202 arrives.
- Paths that cannot hold a buffer: one clear line, exit code 73, nothing written.
"""

import os
import random
import time

import pytest

import checks
import disks
from gateway import preload_env
from helpers import base_config, count_pairs, free_port, grid, print_summary, raw_metrics, wait_until
from probes import Poster
from sparkplug import Coverage, readings
from web import get, web_port, web_section

GROUP = "huacao"
TOKEN = "disk-faults-token"
START, INTERVAL_S = "2024-09-02T09:00", 60
SIM = {"id": "canteen-12", "type": "canteen", "name": "Market canteen", "capacity": 80,
       "sensors": [{"id": "door-%d" % i, "kind": "door_counter"} for i in range(1, 7)]
       + [{"id": "meal-1", "kind": "meal_terminal"}]}
PROBES = {"id": "station-2", "type": "elderly_station", "name": "Station", "capacity": 30,
          "sensors": [{"id": "probe-1", "kind": "occupancy", "driver": "http"}]}
PROBE_KEY = ("station-2", "sensors/probe-1/probe")
MOVED = r"is corrupt|moved aside"


def _config(data_dir, edge, n, port, speed=600, web=False):
    cfg = base_config(GROUP, edge, data_dir, [SIM, PROBES], start=START, interval_s=INTERVAL_S, speed=speed,
                      max_samples=n, uplink={"reconnect": {"min_ms": 200, "max_ms": 1000}})
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN}}
    if web:
        cfg["web"] = web_section()
    return cfg


def _everything_arrived(sub, grid_ts, acked, timeout, what):
    """Waits for every grid sample of the simulator and every probe answered 202; returns
    the figures of the run: accepted (grid readings + acknowledged probes), delivered,
    lost and duplicated, as scripts/reliability-report.py tabulates them."""
    cov = Coverage(raw_metrics([SIM]), grid_ts)

    def done(msgs):
        got = {int(m["value"]) for m in readings(msgs).get(PROBE_KEY, [])}
        return cov(msgs) and acked <= got
    sub.wait_for(done, timeout, what)
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)
    problems = checks.conflicting_duplicates(by_metric) + checks.check_types(msgs)
    assert not problems, checks.report(problems)
    probes = [int(m["value"]) for m in by_metric.get(PROBE_KEY, [])]
    delivered = set(probes)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw_metrics([SIM]))
    assert not missing and acked <= delivered
    return {"raw_expected": exp + len(acked), "raw_received": got + len(acked & delivered),
            "lost": sum(map(len, missing.values())) + len(acked - delivered),
            "raw_duplicates": dups + len(probes) - len(delivered), "probes_acked": len(acked)}


def _metric(port, name, label=""):
    status, _, body = get(port, "/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(name + ("{" + label + "}" if label else " ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("%s%s not in /metrics" % (name, label))


@pytest.mark.parametrize("free", ["low", "none"])
def test_restart_on_a_full_card(tmp_path, make_broker, make_subscriber, make_gateway, free):
    card = disks.Ext4Image(tmp_path, 32)
    try:
        n = 600
        port = free_port()
        broker = make_broker(persistence=True)
        sub = make_subscriber(broker, client_id="platform-" + free, clean_session=False)
        broker.stop()
        # The broker is away: everything stays in the buffer. Then, with a little room
        # left, a kill -9 (the WAL and its -shm stay as a crash leaves them); with none,
        # a clean stop (SQLite removes both, so the next start must create them on a
        # card without a free byte, which only the disk reserve makes possible).
        cfg = _config(card.mnt / "data", "gw-full-" + free, n, port, speed=3000, web=True)
        gw = make_gateway(cfg, [broker.uri])
        poster = Poster(port, TOKEN, pause=0.01)
        poster.start()
        gw.wait_log(r"produced the %d samples" % n, 90)
        wait_until(lambda: len(poster.acked) >= 300, 30)
        acked = poster.finish()
        if free == "low":
            gw.kill()
        else:
            assert gw.terminate(timeout=30) == 0
        assert os.path.exists(card.mnt / "data" / "buffer.reserve"), "no disk reserve was taken"

        # Another file fills the card: below the 8 MiB the buffer keeps free, or to the
        # last byte.
        left = disks.fill(card.mnt, 2 << 20 if free == "low" else 0)
        assert left < (8 << 20), left
        if free == "none":
            assert left < 4096, "%d bytes still free" % left

        broker.start()
        sub.wait_resubscribed(2, 15)
        gw.start()
        late = Poster(port, TOKEN)
        late.start()
        wport = web_port(gw)
        figures = _everything_arrived(sub, grid(START, INTERVAL_S, n), acked, 120,
                                      "every accepted reading after a restart on a full card")
        assert gw.running(), "the gateway died on the full card"
        # New readings are refused while the card is full, and say when to come back.
        assert wait_until(lambda: late.codes.get(503, 0) > 0, 30), late.codes
        late_acked = late.finish()
        assert late.retry_after.get(503) == "10", late.retry_after
        assert _metric(wport, "gateway_readings_refused_total", 'reason="disk_full"') > 0
        status, _, body = get(wport, "/readyz")
        assert status == 503 and "disk is full" in body, (status, body)
        rc = gw.terminate(timeout=30)
        assert rc == 0, rc
        assert gw.log_count(MOVED, whole=True) == 0, "a healthy buffer was taken for corrupt"
        if free == "none":
            assert gw.log_count(r"gave up the \d+-byte disk reserve") >= 1
        print_summary("restart_on_a_full_card_" + free, **figures, free_bytes_at_restart=left,
                      refused_503=late.codes.get(503, 0), accepted_while_full=len(late_acked))
    finally:
        card.close()


@pytest.mark.parametrize("phase,burst_s", [("commit", 0.3), ("commit", 5), ("drain", 0.3), ("drain", 5)])
def test_eio_bursts(tmp_path, make_broker, make_subscriber, make_gateway, phase, burst_s):
    lib = os.environ.get("GATEWAY_EIO_LIB")
    assert lib and os.path.exists(lib), "GATEWAY_EIO_LIB not built (run through ctest)"
    flag = tmp_path / "eio-now"
    n = 900 if phase == "drain" else 300
    port = free_port()
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-eio", clean_session=False)
    cfg = _config(tmp_path / "data", "gw-eio", n, port, speed=3000 if phase == "drain" else 600, web=True)
    gw = make_gateway(cfg, [broker.uri], start=False)
    gw.env = preload_env(lib, GATEWAY_EIO_FLAG=str(flag))
    if phase == "drain":
        broker.stop()
    gw.start()
    wport = web_port(gw)
    poster = Poster(port, TOKEN, pause=0.01)
    poster.start()
    if phase == "drain":
        gw.wait_log(r"produced the %d samples" % n, 90)
        acked = poster.finish()
        broker.start()
        sub.wait_resubscribed(2, 15)
        gw.wait_log(r"uplink: NBIRTH", 30)
        sub.wait_for(lambda msgs: sum(1 for m in msgs if m.type == "DDATA") >= 3, 30, "the drain under way")
    else:
        assert wait_until(lambda: len(poster.acked) >= 200, 30), poster.codes
    flag.touch()
    saw_unready = None
    if burst_s >= 1:
        # While the card fails the gateway says so, and it carries on by itself after.
        saw_unready = wait_until(lambda: get(wport, "/readyz")[0] == 503, burst_s)
        why = get(wport, "/readyz")[2]
    else:
        time.sleep(burst_s)  # the burst's length is the fault itself, not a wait for a condition
    flag.unlink()
    assert wait_until(lambda: get(wport, "/readyz")[0] == 200, 30), get(wport, "/readyz")
    if phase == "commit":
        assert wait_until(lambda: len(poster.acked) >= 400 and poster.codes.get(202, 0) > 0, 30), poster.codes
        acked = poster.finish()
    figures = _everything_arrived(sub, grid(START, INTERVAL_S, n), acked, 120,
                                  "every accepted reading after an EIO burst of %s s" % burst_s)
    assert gw.running(), "the gateway died on the failing card"
    refused_io = _metric(wport, "gateway_readings_refused_total", 'reason="io_error"')
    rc = gw.terminate(timeout=30)
    assert rc == 0, rc
    assert gw.log_count(r"eio_inject: failing buffer I/O with EIO") >= 1, "the seam never fired"
    assert gw.log_count(MOVED) == 0, "an I/O error was taken for corruption"
    if saw_unready is not None:
        assert saw_unready, "/readyz stayed ready during a %s s burst" % burst_s
        assert "buffer" in why, why
    aside = [p for p in os.listdir(tmp_path / "data") if "corrupt" in p]
    assert not aside, aside
    print_summary("eio_%s_%ss" % (phase, burst_s), **figures,
                  http_503=poster.codes.get(503, 0), refused_io_error=int(refused_io), moved_aside=0)


def test_power_cuts(tmp_path, broker, make_subscriber, make_gateway):
    seed = int(os.environ.get("IT_SEED", time.time_ns() % 1000000))
    rnd = random.Random(seed)
    print("power_cuts: random seed %d (set IT_SEED to replay)" % seed)
    card = disks.Ext4Image(tmp_path, 64)
    try:
        n, cycles = 300, 4
        port = free_port()
        sub = make_subscriber(broker)
        cfg = _config(card.mnt / "data", "gw-cuts", n, port, speed=600)
        gw = make_gateway(cfg, [broker.uri])
        poster = Poster(port, TOKEN, pause=0.01)
        poster.start()
        for cycle in range(cycles):
            gw.wait_log(r"http ingest: POST /api/v1/readings", 30)
            time.sleep(rnd.uniform(0.5, 2.5))  # a random moment of the stream: the fault itself
            card.power_cut()
            # The card is dead: the gateway must not crash or move anything; it is
            # stopped the way power loss stops it.
            assert wait_until(lambda: gw.log_count(r"pipeline: commit of \d+ readings failed") > 0 or not gw.running(),
                              15)
            assert gw.running(), "cycle %d: the gateway died on the dead card" % (cycle + 1)
            gw.kill()
            card.replug()
            gw.start()
            assert gw.log_count(MOVED) == 0, "cycle %d: a move-aside after a power cut" % (cycle + 1)
        assert wait_until(lambda: len(poster.acked) >= 50, 30)
        acked = poster.finish()
        figures = _everything_arrived(sub, grid(START, INTERVAL_S, n), acked, 120,
                                      "every accepted reading after %d power cuts" % cycles)
        rc = gw.terminate(timeout=30)
        assert rc == 0, rc
        assert gw.log_count(MOVED, whole=True) == 0
        print_summary("power_cuts", **figures, cuts=cycles, move_aside_attempts=0, seed=seed)
    finally:
        card.close()


@pytest.mark.parametrize("case", ["directory", "dangling_symlink", "read_only"])
def test_unusable_buffer_path(tmp_path, make_gateway, case):
    data = tmp_path / "data"
    if case == "read_only":
        disks.mount_tmpfs(data, 4, read_only=True)
    else:
        data.mkdir()
        if case == "directory":
            (data / "buffer.db").mkdir()
        else:
            os.symlink(str(tmp_path / "missing-card" / "buffer.db"), str(data / "buffer.db"))
    try:
        before = sorted(os.listdir(data))
        gw = make_gateway(_config(data, "gw-path", 10, free_port()), [])
        rc = gw.wait_exit(30)
        assert rc == 73, "exit code %s, not 73 (EX_CANTCREAT: not retried by the unit)" % rc
        want = {"directory": r"buffer\.db is a directory", "dangling_symlink": r"symbolic link to .*does not exist",
                "read_only": r"mounted read-only"}[case]
        assert gw.log_count(r"cannot open the buffer in \S+: .*" + want) == 1, gw.log_text()
        assert sorted(os.listdir(data)) == before, "something was written"
    finally:
        if case == "read_only":
            disks.umount(data)
