"""The gateway's status server from the tests' side: its port (from the log line the
server writes on start, since tests bind port 0), plain GETs, and the config section."""

import base64
import urllib.error
import urllib.request


def web_section(**overrides):
    """A `web:` config section on an ephemeral loopback port."""
    section = {"enabled": True, "address": "127.0.0.1", "port": 0, "push_interval_ms": 200}
    section.update(overrides)
    return section


def web_port(gw, timeout=20):
    m = gw.wait_log(r"web: listening on http://[^ ]*:(\d+)/", timeout)
    return int(m.group(1))


def get(port, path, user=None, password=None, timeout=10):
    """(status, headers, body as text); HTTP errors are returned, not raised."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
