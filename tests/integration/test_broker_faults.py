"""Broker faults: a broker that never acknowledges, a failover list where one broker
dies, a broker restarted without persistence, and a broker refusing the credentials.
In each, every reading the gateway accepted reaches the platform (duplicates allowed),
and the gateway keeps serving without a human."""

import checks
from fake_broker import SilentBroker
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics, wait_until
from sparkplug import Coverage, by_type, readings

START, INTERVAL_S, SPEED = "2024-04-08T10:00", 60, 600  # 10 samples/s

FACILITIES = [
    {"id": "canteen-7", "type": "canteen", "name": "Riverside canteen", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "fit-7", "type": "fitness_point", "name": "Park fitness point", "capacity": 12,
     "sensors": [{"id": "bike-1", "kind": "equipment"}]},
]


def _config(tmp_path, edge, n, **uplink):
    up = {"reconnect": {"min_ms": 200, "max_ms": 1000}}
    up.update(uplink)
    return base_config("faults", edge, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                       speed=SPEED, max_samples=n, uplink=up)


def _assert_complete(title, msgs, grid_ts, **extra):
    by_metric = readings(msgs)
    raw = raw_metrics(FACILITIES)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    print_summary(title, raw_expected=exp, raw_received=got, raw_duplicates=dups, **extra)
    assert not missing, "raw readings missing: %s" % {k: v[:5] for k, v in missing.items()}
    problems = checks.check_types(msgs) + checks.conflicting_duplicates(by_metric)
    assert not problems, checks.report(problems)


def test_broker_that_never_acknowledges(tmp_path, broker, make_subscriber, make_gateway):
    """The first broker of the list takes everything and acknowledges nothing: after
    uplink.ack_timeout_s the gateway drops it, goes on to the next broker, and sends
    everything again there."""
    n = 150
    silent = SilentBroker()
    try:
        sub = make_subscriber(broker)
        gw = make_gateway(_config(tmp_path, "gw-silent", n, ack_timeout_s=2), [silent.uri, broker.uri])
        gw.wait_log(r"no PUBACK from %s" % silent.uri.replace(".", r"\."), 30)
        grid_ts = grid(START, INTERVAL_S, n)
        sub.wait_for(Coverage(raw_metrics(FACILITIES), grid_ts), 60, "every raw reading at the second broker")
        swallowed = silent.stats()
        assert swallowed["publishes"] > 0, "the silent broker received nothing: %s" % swallowed
        assert gw.running()
        rc = gw.terminate(timeout=30)
        assert rc == 0
        sub.barrier()
        _assert_complete("never_acknowledges", sub.snapshot(), grid_ts,
                         swallowed_publishes=swallowed["publishes"], silent_connects=swallowed["connects"])
    finally:
        silent.stop()


def test_failover_when_one_broker_dies(tmp_path, make_broker, make_subscriber, make_gateway):
    """Two brokers; the one in use dies for good mid-stream. The platform listens on
    both (persistent session on the first, so what that broker acknowledged but had not
    yet delivered is not lost to the test when it is brought back at the end)."""
    n = 300
    first = make_broker(name="first", persistence=True)
    second = make_broker(name="second")
    sub1 = make_subscriber(first, client_id="platform-first", clean_session=False)
    sub2 = make_subscriber(second)
    gw = make_gateway(_config(tmp_path, "gw-failover", n), [first.uri, second.uri])
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    sub1.wait_for(Coverage(raw, grid_ts).reached(grid_ts[50]), 30, "sample 50 at the first broker")
    first.stop()
    gw.wait_log(r"connected to %s" % second.uri.replace(".", r"\."), 30)
    sub2.wait_for(Coverage(raw, grid_ts).reached(grid_ts[-1]), 60, "the last sample at the second broker")
    rc = gw.terminate(timeout=30)
    assert rc == 0
    # The first broker's queue for the platform, saved at its shutdown, comes out now.
    first.start()
    sub1.wait_resubscribed(2, 15)
    sub1.barrier()
    sub2.barrier()
    msgs1, msgs2 = sub1.snapshot(), sub2.snapshot()
    assert by_type(msgs2, "NBIRTH"), "no NBIRTH at the second broker"
    _assert_complete("failover", msgs1 + msgs2, grid_ts, first_messages=len(msgs1), second_messages=len(msgs2))


def test_broker_restart_without_persistence(tmp_path, broker, make_subscriber, make_gateway):
    """The broker restarts and forgets everything: sessions, subscriptions, the retained
    STATE of the primary host. The gateway waits for the host to say it is online again
    (so nothing is published into a broker no platform listens on), then births and
    sends the backlog."""
    n = 300
    host = "city-host"
    sub = make_subscriber(broker)
    sub.publish_state(host, True)
    gw = make_gateway(_config(tmp_path, "gw-volatile", n, primary_host_id=host), [broker.uri])
    grid_ts = grid(START, INTERVAL_S, n)
    raw = raw_metrics(FACILITIES)
    sub.wait_for(Coverage(raw, grid_ts).reached(grid_ts[50]), 30, "sample 50 on the wire")
    broker.restart()
    sub.wait_resubscribed(2, 15)
    gw.wait_log(r"buffering until it is back", 15)
    # Reconnected, the gateway has no host STATE (the retained one is gone) and waits.
    wait_until(lambda: gw.log_count(r"uplink: connected to") >= 2, 30)
    mark = sub.count()
    sub.assert_none_for(lambda msgs: by_type(msgs[mark:], "NBIRTH", "DDATA"), 2.0,
                        "births or data before the host's STATE after the restart")
    sub.publish_state(host, True)
    sub.wait_for(Coverage(raw, grid_ts).reached(grid_ts[-1]), 60, "the last sample")
    rc = gw.terminate(timeout=30)
    assert rc == 0
    sub.barrier()
    _assert_complete("restart_without_persistence", sub.snapshot(), grid_ts)


def test_bad_credentials(tmp_path, make_broker, make_subscriber, make_gateway):
    """The broker refuses the password: a clear error, retried with backoff, and the
    password itself appears nowhere in the log. With the right password (a restart with
    the config fixed) everything buffered meanwhile arrives."""
    n = 100
    secret = "s3cret-Pa55-for-test"
    broker = make_broker(username="gw", password=secret)
    sub = make_subscriber(broker, username="gw", password=secret)
    cfg = _config(tmp_path, "gw-auth", n, username="gw", password="wrong-" + secret)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"connect to .* failed: .*([Nn]ot authori[sz]ed|[Bb]ad user name or password)", 20)
    wait_until(lambda: gw.log_count(r"connect to .* failed") >= 3, 30)
    gw.wait_log(r"produced the %d samples" % n, 30)
    assert gw.running()
    assert secret not in gw.log_text(), "the password reached the log"
    gw.terminate(timeout=30)

    cfg["uplink"]["password"] = secret
    gw2 = make_gateway(cfg, [broker.uri], name="gateway-fixed")
    grid_ts = grid(START, INTERVAL_S, n)
    sub.wait_for(Coverage(raw_metrics(FACILITIES), grid_ts), 60, "every raw reading after the fix")
    gw2.terminate(timeout=30)
    assert secret not in gw2.log_text(), "the password reached the log"
    sub.barrier()
    _assert_complete("bad_credentials", sub.snapshot(), grid_ts)
