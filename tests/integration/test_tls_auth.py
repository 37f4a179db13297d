"""TLS and secrets: mutual TLS to a real mosquitto with a CA, server and client
certificates made by the test. A wrong CA, an expired server certificate, a server
certificate for another host and a missing client certificate are each refused with
a clear error, nothing is published, and the gateway keeps its readings and retries.
The key password never reaches the log, and a config holding it that other users can
read gets a warning."""

import os
import re

import pytest

from certs import Ca
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics, wait_until
from sparkplug import Coverage, by_type, readings

START, INTERVAL_S, SPEED, N = "2024-05-06T12:00", 60, 600, 80
FACILITIES = [
    {"id": "station-9", "type": "elderly_station", "name": "Neighbourhood station", "capacity": 25,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "checkin-1", "kind": "checkin_terminal"}]},
]
KEY_PASSWORD = "k3y-Pa55word-never-logged"


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    ca = Ca(str(d), "city")
    other = Ca(str(d), "other")
    certs = {
        "ca": ca.cert_path,
        "other_ca": other.cert_path,
        "server": ca.issue("server", server=True),
        "expired": ca.issue("server-expired", server=True, expired=True),
        "wrong_host": ca.issue("server-wrong-host", server=True, hosts=("mqtt.elsewhere.example",)),
        "client": ca.issue("gateway", server=False, key_password=KEY_PASSWORD),
    }
    return certs


def _broker(make_broker, pki, server="server"):
    cert, key = pki[server]
    return make_broker(tls={"cafile": pki["ca"], "certfile": cert, "keyfile": key, "require_certificate": True})


def _config(tmp_path, edge, pki, **tls):
    t = {"enabled": True, "ca_file": pki["ca"], "cert_file": pki["client"][0], "key_file": pki["client"][1],
         "key_password": KEY_PASSWORD}
    t.update(tls)
    t = {k: v for k, v in t.items() if v is not None}
    return base_config("tls", edge, tmp_path / ("data-" + edge), FACILITIES, start=START, interval_s=INTERVAL_S,
                       speed=SPEED, max_samples=N,
                       uplink={"tls": t, "reconnect": {"min_ms": 200, "max_ms": 1000}})


def test_mutual_tls_delivers_and_keeps_secrets(tmp_path, make_broker, make_subscriber, make_gateway, pki):
    broker = _broker(make_broker, pki)
    sub = make_subscriber(broker)  # on the plain listener beside the TLS one
    gw = make_gateway(_config(tmp_path, "gw-mtls", pki), [broker.tls_uri])
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(FACILITIES)
    sub.wait_for(Coverage(raw, grid_ts), 60, "every raw reading over mutual TLS")
    rc = gw.terminate(timeout=30)
    assert rc == 0
    sub.barrier()
    exp, got, dups, missing = count_pairs(readings(sub.snapshot()), grid_ts, raw)
    print_summary("mutual_tls", raw_expected=exp, raw_received=got, raw_duplicates=dups)
    assert not missing
    log = gw.log_text(whole=True)
    assert KEY_PASSWORD not in log, "the key password reached the log"
    # The harness writes the config with the default umask, readable by others: warned.
    assert os.stat(gw.config_path).st_mode & 0o004
    assert re.search(r"key_password.*readable by other users", log), "no warning for a readable config"


@pytest.mark.parametrize("case", ["wrong_ca", "expired_server", "wrong_host", "no_client_cert"])
def test_refused(tmp_path, make_broker, make_subscriber, make_gateway, pki, case):
    server = {"expired_server": "expired", "wrong_host": "wrong_host"}.get(case, "server")
    broker = _broker(make_broker, pki, server)
    sub = make_subscriber(broker)
    tls = {}
    if case == "wrong_ca":
        tls["ca_file"] = pki["other_ca"]
    if case == "no_client_cert":
        tls.update(cert_file=None, key_file=None, key_password=None)
    gw = make_gateway(_config(tmp_path, "gw-" + case.replace("_", "-"), pki, **tls), [broker.tls_uri])
    gw.wait_log(r"connect to ssl://\S+ failed: no connection \(TCP connect or TLS handshake failed\)", 20)
    wait_until(lambda: gw.log_count(r"connect to ssl://\S+ failed") >= 3, 30)
    gw.wait_log(r"produced the %d samples" % N, 30)
    assert gw.running(), "the gateway gave up"
    sub.barrier()
    published = by_type(sub.snapshot(), "NBIRTH", "DBIRTH", "DDATA")
    assert not published, "published through a connection that should have been refused: %s" % published[:3]
    # The refusal happened before MQTT: the broker never had the gateway as a client.
    edge = "gw-" + case.replace("_", "-")
    log = broker.log_text()
    assert "as %s" % sub.client_id in log, "the broker log does not record sessions"
    assert "as tls-%s" % edge not in log, "the broker accepted an MQTT session from the gateway"
    rc = gw.terminate(timeout=30)
    assert rc == 0
    assert KEY_PASSWORD not in gw.log_text(whole=True)
