"""Fixtures for the integration tests: a real mosquitto per test, gateway processes
started from a factory, a Sparkplug subscriber; all stopped in finalizers, and their
logs printed when the test failed.

ctest runs each test file with the working directory tests/integration and the
environment GATEWAY_BIN, GATEWAY_PY_PROTO_DIR and GATEWAY_SOURCE_DIR.
"""

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "support"))
_PROTO_DIR = os.environ.get("GATEWAY_PY_PROTO_DIR")
if _PROTO_DIR:
    sys.path.insert(0, _PROTO_DIR)

from mosquitto import Mosquitto, find_mosquitto  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture(scope="session", autouse=True)
def _environment():
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    missing = [v for v in ("GATEWAY_BIN", "GATEWAY_PY_PROTO_DIR") if not os.environ.get(v)]
    if missing:
        pytest.fail("environment not set: %s (run through ctest, or export them)" % ", ".join(missing))
    try:
        import sparkplug_b_pb2  # noqa: F401
    except ImportError as e:
        pytest.fail("sparkplug_b_pb2 not importable from GATEWAY_PY_PROTO_DIR=%s: %s" % (_PROTO_DIR, e))


@pytest.fixture
def make_broker(tmp_path, request):
    """Factory: make_broker(start=True, **kwargs) -> Mosquitto."""
    brokers = []

    def make(start=True, name=None, **kwargs):
        b = Mosquitto(tmp_path, name=name or "mosquitto%d" % len(brokers), **kwargs)
        brokers.append(b)
        if start:
            b.start()
        return b
    yield make
    failed = _failed(request)
    for b in brokers:
        b.stop()
        if failed:
            b.print_log()


@pytest.fixture
def broker(make_broker):
    return make_broker()


@pytest.fixture
def make_gateway(tmp_path, request):
    """Factory: make_gateway(config, broker_uris, start=True) -> Gateway."""
    from gateway import Gateway
    gateways = []

    def make(config, broker_uris=(), start=True, name=None, extra_args=(), prefix=()):
        g = Gateway(tmp_path, config, broker_uris, name=name or "gateway%d" % len(gateways),
                    extra_args=extra_args, prefix=prefix)
        gateways.append(g)
        if start:
            g.start()
        return g
    yield make
    failed = _failed(request)
    for g in gateways:
        if g.running():
            g.kill()
        if failed:
            g.print_log()
    # A sanitizer report fails the test even when what it asserted held.
    for g in gateways:
        try:
            g.check_sanitizers()
        except AssertionError as e:
            if not failed:
                g.print_log()
            pytest.fail(str(e), pytrace=False)


@pytest.fixture
def make_subscriber(request):
    from sparkplug import SparkplugSubscriber
    subs = []

    def make(broker, **kwargs):
        s = SparkplugSubscriber(broker.host, broker.port, **kwargs)
        subs.append(s)
        s.start()
        return s
    yield make
    failed = _failed(request)
    for s in subs:
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
        if failed:
            msgs = s.snapshot()
            print("---- subscriber %s: %d messages; last 40 ----" % (s.client_id, len(msgs)))
            for m in msgs[-40:]:
                print(repr(m), [(x["name"], x["timestamp"], x["value"], x["is_historical"])
                                for x in m.metrics[:6]])


@pytest.fixture
def make_postgres(request, tmp_path):
    """Factory: make_postgres() -> a started Postgres (support/postgres.py), stopped and
    removed at the end; its log printed when the test failed."""
    from postgres import Postgres
    clusters = []

    def make(name=None):
        p = Postgres(tmp_path, name=name or "postgres%d" % len(clusters))
        clusters.append(p)
        p.start()
        return p
    yield make
    failed = _failed(request)
    for p in clusters:
        if failed:
            p.print_log()
        p.cleanup()


@pytest.fixture
def make_host(tmp_path, request):
    """Factory: make_host(broker, postgres, groups, **host_keys) -> a started TownHost."""
    from town_host import TownHost
    hosts = []

    def make(broker, pg, groups, name=None, start=True, **host_keys):
        h = TownHost(tmp_path, broker, pg, groups, name=name or "host%d" % len(hosts), **host_keys)
        hosts.append(h)
        if start:
            h.start()
        return h
    yield make
    failed = _failed(request)
    for h in hosts:
        if h.running():
            h.kill()
        if failed:
            h.print_log()
