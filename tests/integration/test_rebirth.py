"""NCMD Node Control/Rebirth: the gateway answers with a new NBIRTH (seq 0, same bdSeq,
since the MQTT connection is the same) and every DBIRTH again, and data goes on without
a hole. Run over MQTT 3.1.1 and MQTT 5; the graceful exit ends with an NDEATH carrying
the session's bdSeq in both."""

import pytest

import checks
from helpers import base_config, count_pairs, grid, print_summary, raw_metrics
from sparkplug import Coverage, by_type, check_seq, readings

GROUP, EDGE = "lingang", "gw-rebirth"
START, INTERVAL_S, SPEED, N = "2024-03-04T11:00", 60, 600, 200

FACILITIES = [
    {"id": "canteen-4", "type": "canteen", "name": "Doorstep canteen", "capacity": 40,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "seat-1", "kind": "seat"}]},
    {"id": "fit-4", "type": "fitness_point", "name": "Fitness trail", "capacity": 15,
     "sensors": [{"id": "bar-1", "kind": "equipment"}]},
]


@pytest.mark.parametrize("mqtt_version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_rebirth(tmp_path, broker, make_subscriber, make_gateway, mqtt_version):
    sub = make_subscriber(broker)
    cfg = base_config(GROUP, EDGE, tmp_path / "data", FACILITIES, start=START, interval_s=INTERVAL_S,
                      speed=SPEED, max_samples=N, uplink={"mqtt_version": mqtt_version})
    gw = make_gateway(cfg, [broker.uri])
    grid_ts = grid(START, INTERVAL_S, N)
    raw = raw_metrics(FACILITIES)
    cov = Coverage(raw, grid_ts)
    sub.wait_for(cov.reached(grid_ts[40]), 30, "sample 40 on the wire")

    mark = sub.count()
    sub.publish_rebirth(GROUP, EDGE)
    sub.wait_for(lambda msgs: by_type(msgs[mark:], "NBIRTH"), 10, "NBIRTH after the rebirth request")
    sub.wait_for(cov, 60, "every raw metric at every grid timestamp")
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    msgs = sub.snapshot()

    nbirths = by_type(msgs, "NBIRTH")
    assert len(nbirths) == 2, "NBIRTHs: %s" % nbirths
    first, second = nbirths
    assert second.index > mark
    assert second.seq == 0, "rebirth NBIRTH seq %s" % second.seq
    assert second.metric("bdSeq")["value"] == first.metric("bdSeq")["value"], "bdSeq changed on a rebirth"
    assert second.metric("Node Control/Rebirth")["value"] is False
    node_msgs = [m for m in msgs if m.type is not None]  # the barrier marker has no type
    ndeaths = by_type(msgs, "NDEATH")
    assert len(ndeaths) == 1 and ndeaths[0].index == node_msgs[-1].index, \
        "graceful exit: NDEATHs %s, last message %s" % (ndeaths, node_msgs[-1].type)
    assert ndeaths[0].metric("bdSeq")["value"] == first.metric("bdSeq")["value"], "NDEATH bdSeq"

    # All DBIRTHs again, right after the NBIRTH and before any more DDATA.
    after = [m for m in msgs if m.index > second.index and m.type in ("DBIRTH", "DDATA")]
    born = []
    for m in after:
        if m.type == "DDATA":
            break
        born.append(m.device)
    assert sorted(born) == sorted(f["id"] for f in FACILITIES), "DBIRTHs after the rebirth: %s" % born
    assert any(m.type == "DDATA" for m in after), "no data after the rebirth"

    by_metric = readings(msgs)
    exp, got, dups, missing = count_pairs(by_metric, grid_ts, raw)
    print_summary("rebirth", raw_expected=exp, raw_received=got, raw_duplicates=dups,
                  ddata_after_rebirth=sum(m.type == "DDATA" for m in after))
    assert not missing, "raw readings missing: %s" % {k: v[:5] for k, v in missing.items()}
    problems = check_seq(msgs) + checks.check_births(msgs, FACILITIES) + checks.check_types(msgs)
    assert not problems, checks.report(problems)
