"""Network faults between the gateway and its broker: a partition that leaves the TCP
connection half-open (no FIN, no RST: only keep-alive can tell), 30 % packet loss,
a flapping link, and 500 ms of latency each way. In every case: zero accepted readings
lost, order kept per facility within each session (between NBIRTHs), the reconnect
within the backoff bounds, and the gateway's memory bounded.

The gateway and mosquitto run in network namespaces the test makes (netlab.py);
without the privilege to make them the namespace tests skip, saying why. The latency
test needs no namespace (a delay proxy on loopback; this kernel has no netem).
"""

import time

import pytest

import checks
import netlab
import sanitizers
from delay_proxy import DelayProxy
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, readings

START, INTERVAL_S, SPEED = "2024-06-03T08:00", 60, 600  # 10 samples/s
FACILITIES = [
    {"id": "canteen-11", "type": "canteen", "name": "Lane canteen", "capacity": 50,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "station-11", "type": "elderly_station", "name": "Lane station", "capacity": 30,
     "sensors": [{"id": "door-1", "kind": "door_counter"}]},
]
KEEP_ALIVE_S, CONNECT_TIMEOUT_S, BACKOFF_MAX_MS = 2, 3, 2000
# After a fault ends, a reconnect needs at most: the attempt under way to time out,
# the longest backoff, and one more connect.
RECONNECT_BOUND_S = 2 * CONNECT_TIMEOUT_S + BACKOFF_MAX_MS / 1000 + 2
# Under AddressSanitizer the peak also holds its quarantine of freed memory (256 MiB)
# and shadow memory, so the bound there only catches runaway growth (LeakSanitizer
# checks the graceful exit).
RSS_BOUND_KB = (64 + (384 if sanitizers.enabled() else 0)) * 1024


def _config(tmp_path, edge, n):
    up = {"keep_alive_s": KEEP_ALIVE_S, "connect_timeout_s": CONNECT_TIMEOUT_S, "ack_timeout_s": 10,
          "reconnect": {"min_ms": 200, "max_ms": BACKOFF_MAX_MS}}
    return base_config("net", edge, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                       speed=SPEED, max_samples=n, uplink=up)


@pytest.fixture
def lab():
    why = netlab.available()
    if why:
        pytest.skip("network namespaces unavailable: " + why)
    with netlab.NetLab() as lab:
        yield lab


def _start(tmp_path, lab, make_broker, make_subscriber, make_gateway, edge, n):
    broker = make_broker(bind=[lab.br_gw_addr, lab.br_sub_addr], host=lab.br_sub_addr,
                         prefix=lab.in_broker_ns([]))
    sub = make_subscriber(broker)
    gw = make_gateway(_config(tmp_path, edge, n), [broker.uri_at(lab.br_gw_addr)], prefix=lab.in_gateway_ns([]))
    return broker, sub, gw


def _peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def _session_order(msgs):
    """Per facility, DDATA timestamps never go backwards within one session (from one
    NBIRTH to the next); after a reconnect the backlog starts again from the oldest
    unacknowledged reading, which may repeat but never reorder."""
    # Raw sensor readings only: what the model stamps with the clock (a sensor going
    # silent, sensors/*/online) may precede samples of a simulator lagging its clock
    # (under a sanitizer), and is not backlog order.
    raw = raw_metrics(FACILITIES)
    problems, last = [], {}
    for msg in msgs:
        if msg.type == "NBIRTH":
            last = {}
        if msg.type != "DDATA":
            continue
        for m in msg.metrics:
            if (msg.device, m["name"]) not in raw:
                continue
            prev = last.get(msg.device)
            if prev is not None and m["timestamp"] < prev:
                problems.append("%s: %s at %d after %d" % (msg.device, m["name"], m["timestamp"], prev))
            last[msg.device] = m["timestamp"]
    return problems


def _finish(title, gw, sub, grid_ts, **extra):
    sub.wait_for(Coverage(raw_metrics(FACILITIES), grid_ts), 90, "every raw reading")
    peak = _peak_rss_kb(gw.pid)
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    msgs = sub.snapshot()
    by_metric = readings(msgs)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw_metrics(FACILITIES))
    print_summary(title, raw_expected=exp, raw_received=got, raw_duplicates=dups, lost=sum(map(len, missing.values())),
                  nbirths=len(by_type(msgs, "NBIRTH")), peak_rss_kb=peak, **extra)
    assert not missing, "raw readings lost: %s" % {k: v[:5] for k, v in missing.items()}
    problems = _session_order(msgs) + checks.conflicting_duplicates(by_metric) + checks.check_types(msgs)
    assert not problems, checks.report(problems)
    assert peak is not None and peak < RSS_BOUND_KB, "peak RSS %s kB" % peak


def _wait_reconnected(gw, before, t_healed):
    deadline = t_healed + RECONNECT_BOUND_S
    while gw.log_count(r"uplink: connected to") <= before:
        assert time.monotonic() < deadline, "no reconnect within %.0f s of the fault ending" % RECONNECT_BOUND_S
        assert gw.running(), "gateway exited"
        time.sleep(0.05)
    return time.monotonic() - t_healed


def test_partition_half_open(tmp_path, lab, make_broker, make_subscriber, make_gateway):
    n = 400
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    broker, sub, gw = _start(tmp_path, lab, make_broker, make_subscriber, make_gateway, "gw-partition", n)
    sub.wait_for(Coverage(raw, grid_ts).reached(grid_ts[40]), 30, "sample 40 on the wire")
    connects = gw.log_count(r"uplink: connected to")
    lab.partition()
    t0 = time.monotonic()
    # Nothing tells the gateway the peer is gone: keep-alive must.
    gw.wait_log(r"connection to \S+ lost", 4 * KEEP_ALIVE_S + 5)
    detected = time.monotonic() - t0
    time.sleep(max(0.0, 20 - detected))  # the partition lasts 20 s
    lab.heal()
    took = _wait_reconnected(gw, connects, time.monotonic())
    _finish("partition", gw, sub, grid_ts, detected_after_s=round(detected, 1), reconnected_after_s=round(took, 1))


def test_packet_loss(tmp_path, lab, make_broker, make_subscriber, make_gateway):
    n = 300
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    broker, sub, gw = _start(tmp_path, lab, make_broker, make_subscriber, make_gateway, "gw-loss", n)
    sub.wait_for(Coverage(raw, grid_ts).reached(grid_ts[20]), 30, "sample 20 on the wire")
    lab.loss(30)
    gw.wait_log(r"produced the %d samples" % n, 60)
    lab.heal()
    _finish("loss_30", gw, sub, grid_ts)


def test_flapping_link(tmp_path, lab, make_broker, make_subscriber, make_gateway):
    n = 350
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    broker, sub, gw = _start(tmp_path, lab, make_broker, make_subscriber, make_gateway, "gw-flap", n)
    sub.wait_for(Coverage(raw, grid_ts).reached(grid_ts[20]), 30, "sample 20 on the wire")
    flaps = 0
    # Down 3 s, up 2 s, for the rest of the sampling: some outages are caught by
    # keep-alive, others end before it notices.
    while gw.log_count(r"produced the %d samples" % n) == 0:
        assert gw.running(), "gateway exited"
        lab.partition()
        time.sleep(3)
        lab.heal()
        time.sleep(2)
        flaps += 1
        assert flaps < 30, "sampling did not end"
    _finish("flapping", gw, sub, grid_ts, flaps=flaps)


def test_latency_500ms(tmp_path, broker, make_subscriber, make_gateway):
    n = 200
    grid_ts = grid(START, INTERVAL_S, n)
    proxy = DelayProxy(("127.0.0.1", broker.port), 0.5)
    try:
        sub = make_subscriber(broker)
        gw = make_gateway(_config(tmp_path, "gw-latency", n), [proxy.uri])
        _finish("latency_500ms", gw, sub, grid_ts)
        assert proxy.connections >= 1
    finally:
        proxy.stop()
