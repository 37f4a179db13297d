"""No card number (OCPP idTag) leaves the gateway or reaches its logs, parsed or not.

A charge point with a JSON bug sends malformed frames that carry cards: truncated,
with a card as a key, as the action, as the message id, in an unsolicited CALLRESULT.
Each still gets its CALLERROR (the protocol answer goes back to the sender only); the
log (at debug level), /api/status and the /events stream show that the frames were
refused, and never the cards. A well-formed Authorize shows the card's hash only.
"""

import json
import urllib.request

import websocket

from helpers import base_config, free_port, wait_until
from web import get, web_port, web_section

GROUP, EDGE = "huacao", "gw-ocpp-privacy"
CARDS = ["04A1B2C3D4E5F601", "04A1B2C3D4E5F602", "04A1B2C3D4E5F603", "04A1B2C3D4E5F604",
         "04A1B2C3D4E5F605", "04A1B2C3D4E5F606", "04A1B2C3D4E5F607", "04A1B2C3D4E5F608"]


def config(tmp_path, port):
    facilities = [{"id": "charging-9", "type": "charging_station", "name": "Piles",
                   "sensors": [{"id": "CP-9", "kind": "charge_point", "driver": "ocpp", "connectors": 1}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"ocpp": {"enabled": True, "port": port, "max_calls_per_minute": 600}}
    cfg["web"] = web_section()
    return cfg


def first_event(port, timeout=10):
    """The data of the first `status` event of /events."""
    with urllib.request.urlopen("http://127.0.0.1:%d/events" % port, timeout=timeout) as r:
        data = []
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                return "\n".join(data)
    raise AssertionError("no event")


def test_malformed_frames_never_show_a_card(tmp_path, broker, make_gateway):
    port = free_port()
    gw = make_gateway(config(tmp_path, port), [broker.uri], extra_args=["--log-level", "debug"])
    gw.wait_log(r"ocpp: OCPP 1\.6J at ws://127\.0\.0\.1:%d" % port, 15)
    wport = web_port(gw)
    ws = websocket.create_connection("ws://127.0.0.1:%d/ocpp/CP-9" % port, subprotocols=["ocpp1.6"], timeout=10)

    malformed = [
        ('[2,"a3","Authorize",{"idTag":"%s"}' % CARDS[0], "FormationViolation"),    # truncated: not JSON
        ('[2,"a4","Authorize",{"idTag":"%s"},]' % CARDS[1], "FormationViolation"),  # trailing comma
        ('[2,"a5","Authorize",{"%s":"x"}]' % CARDS[2], "FormationViolation"),       # a card as the key
        ('[2,"a6","%s",{}]' % CARDS[3], "NotImplemented"),                          # a card as the action
        ('[2,"%s","Heartbeat"]' % CARDS[4], "FormationViolation"),                  # a card as the message id
        ('[2,"a7","Authorize",{"idTag":"%s","idTag":1}]' % CARDS[5], "TypeConstraintViolation"),
    ]
    for text, code in malformed:
        ws.send(text)
        answer = json.loads(ws.recv())
        assert answer[0] == 4 and answer[2] == code, (text, answer)
    ws.send('[3,"%s",{"idTagInfo":{"status":"Accepted"}}]' % CARDS[6])  # unsolicited CALLRESULT: ignored
    ws.send('[2,"ok1","Authorize",{"idTag":"%s"}]' % CARDS[7])  # well-formed: served, logged by hash
    answer = json.loads(ws.recv())
    assert answer[0] == 3 and answer[1] == "ok1", answer
    gw.wait_log(r"ocpp: CP-9: idTag #[0-9a-f]{32}", 10)

    # The refusals did reach the log and the status page, as lines without the cards.
    gw.wait_log(r"CP-9: malformed frame \(FormationViolation: .*\), \d+ bytes, not logged", 10)
    gw.wait_log(r"CP-9: an unknown action \(16 bytes\) refused: NotImplemented", 10)
    gw.wait_log(r"ocpp: CP-9: a CALLRESULT ignored", 10)

    def status_shows_refusals():
        code, _, body = get(wport, "/api/status")
        return code == 200 and "malformed frame" in body and "unknown action" in body and body
    status = wait_until(status_shows_refusals, 10)
    assert status, "the refusals are not in /api/status"
    event = first_event(wport)
    assert "malformed frame" in event
    ws.close()
    assert gw.terminate() == 0

    log = gw.log_text(whole=True)
    for where, text in (("log", log), ("/api/status", status), ("/events", event)):
        for card in CARDS:
            assert card not in text, "card %s in %s" % (card, where)
