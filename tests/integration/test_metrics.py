"""/metrics, /healthz and /readyz of a running gateway (simulator -> real mosquitto):
the scrape parses with the Prometheus reference parser (python3-prometheus-client),
carries every family the operations team alerts on, and its counters move between two
scrapes. Then the same server with a password: everything but the probes asks for it."""


from prometheus_client.parser import text_string_to_metric_families

from helpers import base_config, wait_until
from web import get, web_port, web_section

FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "华漕长者食堂", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "fit-1", "type": "fitness_point", "name": "Riverside", "capacity": 30,
     "sensors": [{"id": "gate-1", "kind": "door_counter"}, {"id": "bike-1", "kind": "equipment"}]},
]

EXPECTED = {
    "gateway_readings_accepted": "counter",
    "gateway_readings_refused": "counter",
    "gateway_readings_dropped": "counter",
    "gateway_readings_published": "counter",
    "gateway_buffer_readings": "gauge",
    "gateway_buffer_oldest_age_seconds": "gauge",
    "gateway_publish_latency_seconds": "histogram",
    "gateway_uplink_reconnects": "counter",
    "gateway_uplink_connected": "gauge",
    "gateway_driver_errors": "counter",
    "gateway_sensor_last_seen_age_seconds": "gauge",
    "gateway_sensor_online": "gauge",
    "gateway_facility_occupancy": "gauge",
    "process_resident_memory_bytes": "gauge",
}


def scrape(port, **auth):
    status, headers, body = get(port, "/metrics", **auth)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    return families


def value(families, family, sample_name=None, **labels):
    f = families[family]
    for s in f.samples:
        if (sample_name is None or s.name == sample_name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s %s in %s" % (sample_name or family, labels, f.samples))


def test_metrics_parse_and_move(tmp_path, broker, make_gateway):
    cfg = base_config("huacao", "gw-metrics", tmp_path / "data", FACILITIES, start="2024-03-04T11:00",
                      interval_s=60, speed=600, max_samples=5000)
    cfg["web"] = web_section()
    gw = make_gateway(cfg, [broker.uri])
    port = web_port(gw)

    assert get(port, "/healthz")[0] == 200
    assert get(port, "/readyz")[0] == 200
    gw.wait_log(r"NBIRTH", 20)
    # Wait for the first acknowledged publish so that the histogram has observations.
    assert wait_until(lambda: value(scrape(port), "gateway_readings_published") > 0, 20)
    first = scrape(port)
    for name, kind in EXPECTED.items():
        assert name in first, "family %s missing" % name
        assert first[name].type == kind, "%s is %s, not %s" % (name, first[name].type, kind)

    def moved():
        now = scrape(port)
        return now if (value(now, "gateway_readings_accepted") > value(first, "gateway_readings_accepted") and
                       value(now, "gateway_readings_published") > value(first, "gateway_readings_published")) else None
    second = wait_until(moved, 20)
    assert second, "accepted and published did not move"

    # The histogram is cumulative and consistent with its count.
    buckets = [(s.labels["le"], s.value) for s in second["gateway_publish_latency_seconds"].samples
               if s.name.endswith("_bucket")]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and buckets[-1][0] == "+Inf"
    assert buckets[-1][1] == value(second, "gateway_publish_latency_seconds", "gateway_publish_latency_seconds_count")
    assert buckets[-1][1] > 0

    # Every configured sensor has its last-seen age, labelled by facility and sensor.
    ages = {(s.labels["facility"], s.labels["sensor"]) for s in second["gateway_sensor_last_seen_age_seconds"].samples}
    assert ages == {("canteen-1", "door-1"), ("canteen-1", "meal-1"), ("fit-1", "gate-1"), ("fit-1", "bike-1")}
    assert value(second, "gateway_driver_errors", driver="simulator") == 0
    assert value(second, "gateway_uplink_connected") == 1
    assert value(second, "gateway_readings_dropped") == 0
    assert value(second, "gateway_facility_occupancy", facility="canteen-1") >= 0
    assert value(second, "process_resident_memory_bytes") > 1e6

    # Reconnects count when the broker goes away and comes back.
    broker.stop()
    gw.wait_log(r"uplink: .*buffering until it is back", 20)
    broker.start()
    assert wait_until(lambda: value(scrape(port), "gateway_uplink_reconnects") >= 1 and
                      value(scrape(port), "gateway_uplink_connected") == 1, 30)
    assert gw.terminate() == 0


def test_password_protects_all_but_probes(tmp_path, broker, make_gateway):
    cfg = base_config("huacao", "gw-auth", tmp_path / "data", FACILITIES, max_samples=100)
    cfg["web"] = web_section(username="tech", password="s3cret-密码")
    gw = make_gateway(cfg, [broker.uri])
    port = web_port(gw)
    for path in ("/", "/api/status", "/metrics", "/events"):
        status, headers, _ = get(port, path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Basic realm=")
        assert get(port, path, user="tech", password="wrong")[0] == 401
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/readyz")[0] == 200
    status, _, body = get(port, "/api/status", user="tech", password="s3cret-密码")
    assert status == 200 and '"facilities"' in body
    assert "s3cret" not in gw.log_text(whole=True)
    assert gw.terminate() == 0
