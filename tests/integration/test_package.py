"""The Debian package: built by CPack from this build, it holds the binary, the config
as a conffile, the systemd unit and the sysusers entry; lintian reports no error, and
with --pedantic no hardening tag (FORTIFY_SOURCE, BIND_NOW, stack protector, RELRO);
the unit passes `systemd-analyze verify` and `systemd-analyze security` rates it at
most 2.0, the figure README records (systemd does not run as PID 1 here, so the unit
is checked rather than started); the packaged binary runs and accepts the packaged
config, which is inert: run as installed, the gateway opens no network connection,
stores no reading and says what is not set up; and every system call it makes is in
the unit's SystemCallFilter.

scripts/check-deb-install.sh (root, network) installs the package into a fresh Debian
12 chroot and checks the maintainer scripts and the inert default there."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

import sanitizers

BUILD = os.environ.get("GATEWAY_BINARY_DIR")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not BUILD:
        pytest.fail("GATEWAY_BINARY_DIR is not set (run through ctest)")
    out = tmp_path_factory.mktemp("deb")
    p = run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-G", "DEB", "-B", str(out)],
            cwd=BUILD, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    return os.path.join(out, debs[0])


def test_contents_and_control(deb, tmp_path):
    p = run(["dpkg-deb", "--contents", deb])
    assert p.returncode == 0, p.stderr
    files = {line.split()[-1].lstrip(".") for line in p.stdout.splitlines()}
    for want in ("/usr/bin/community-gateway", "/etc/community-gateway/config.yaml",
                 "/lib/systemd/system/community-gateway.service", "/usr/lib/sysusers.d/community-gateway.conf",
                 "/usr/share/doc/community-gateway/copyright", "/usr/share/doc/community-gateway/changelog.Debian.gz",
                 "/usr/share/doc/community-gateway/examples/example.yaml"):
        assert want in files, "%s not in the package" % want
    for line in p.stdout.splitlines():
        assert " root/root " in line, "not owned by root: " + line

    control = run(["dpkg-deb", "--field", deb]).stdout
    assert re.search(r"^Package: community-gateway$", control, re.M)
    deps = re.search(r"^Depends: (.*)$", control, re.M).group(1)
    for lib in ("libpaho-mqttpp3", "libsqlite3", "libsystemd0", "libyaml-cpp"):
        assert lib in deps, "Depends lacks %s: %s" % (lib, deps)
    # Cross builds cannot run dpkg-shlibdeps and use the list in Packaging.cmake: it
    # must say what dpkg-shlibdeps says for the native build.
    src = os.environ.get("GATEWAY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(src, "packaging", "Packaging.cmake")) as f:
        fixed = re.search(r'set\(GATEWAY_RUNTIME_DEPENDS "([^"]*)"\)', f.read()).group(1)
    split = lambda s: sorted(x.strip() for x in s.split(","))  # noqa: E731
    found = [d for d in split(deps) if d not in ("tzdata", "adduser", "init-system-helpers (>= 1.52)")]
    if sanitizers.enabled():
        # A sanitized build (the test command's) needs the sanitizer runtimes besides;
        # every other library must be in the fixed list.
        found = [d for d in found if not re.match(r"(libasan|libubsan|libtsan|liblsan)\d", d)]
    assert split(fixed) == found, \
        "packaging/Packaging.cmake GATEWAY_RUNTIME_DEPENDS is stale; dpkg-shlibdeps says: " + deps

    ctrl = tmp_path / "control"
    assert run(["dpkg-deb", "--control", deb, str(ctrl)]).returncode == 0
    assert (ctrl / "conffiles").read_text().split() == ["/etc/community-gateway/config.yaml"]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(ctrl / script, os.X_OK), script
        assert run(["sh", "-n", str(ctrl / script)]).returncode == 0, script
    assert "systemd-sysusers" in (ctrl / "postinst").read_text()
    assert "deb-systemd-helper enable" in (ctrl / "postinst").read_text()


def test_lintian_reports_no_errors(deb):
    if shutil.which("lintian") is None:
        pytest.fail("lintian is not installed (scripts/install-deps.sh installs it)")
    p = run(["lintian", "--allow-root", deb], timeout=300)
    print(p.stdout + p.stderr)
    errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)


def test_unit_verifies_and_binary_runs(deb, tmp_path):
    root = tmp_path / "root"
    assert run(["dpkg-deb", "--extract", deb, str(root)]).returncode == 0
    binary = str(root / "usr/bin/community-gateway")
    p = run([binary, "--version"])
    sanitizers.check(p.stdout + p.stderr, "packaged binary --version", p.returncode)
    assert p.returncode == 0 and p.stdout.startswith("community-gateway ")
    p = run([binary, "check-config", "--config", str(root / "etc/community-gateway/config.yaml")])
    sanitizers.check(p.stdout + p.stderr, "packaged binary check-config", p.returncode)
    assert p.returncode == 0, p.stdout + p.stderr

    unit = (root / "lib/systemd/system/community-gateway.service").read_text()
    for want in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=community-gateway",
                 "StateDirectory=community-gateway", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes"):
        assert want in unit, want
    # verify checks the binary exists and is executable: point it at the extracted one.
    check = tmp_path / "unit"
    check.mkdir()
    (check / "community-gateway.service").write_text(unit.replace("/usr/bin/community-gateway", binary))
    p = run(["systemd-analyze", "verify", str(check / "community-gateway.service")])
    assert p.returncode == 0 and p.stderr.strip() == "", p.stdout + p.stderr
    sysusers = (root / "usr/lib/sysusers.d/community-gateway.conf").read_text()
    assert re.search(r"^u community-gateway ", sysusers, re.M)


def test_notify_ready_and_watchdog(tmp_path, monkeypatch, make_gateway):
    """What systemd sees of Type=notify: READY=1 once running, WATCHDOG=1 at half of
    WATCHDOG_USEC, STOPPING=1 on SIGTERM. The test plays systemd's notify socket."""
    import socket
    import time

    from helpers import base_config

    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", sock_path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # pings every 0.2 s
    cfg = base_config("huacao", "gw-notify", tmp_path / "data",
                      [{"id": "c", "type": "canteen", "capacity": 5, "sensors": [{"id": "d", "kind": "door_counter"}]}])
    gw = make_gateway(cfg, ["tcp://127.0.0.1:1"])
    got = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in got) < 3:
        got.append(sock.recv(4096).decode())
    assert any("READY=1" in m for m in got), got
    assert sum("WATCHDOG=1" in m for m in got) >= 3, got
    assert gw.terminate() == 0
    rest = []
    sock.settimeout(0.5)
    try:
        while True:
            rest.append(sock.recv(4096).decode())
    except socket.timeout:
        pass
    assert any("STOPPING=1" in m for m in rest), rest
    sock.close()


def test_lintian_pedantic_has_no_hardening_tags(deb):
    """dpkg-buildflags' hardening (cmake/Hardening.cmake) as lintian checks it, and as
    the binary shows it: BIND_NOW and RELRO in the dynamic section, fortified calls."""
    # A sanitized build (the test command's) has every flag but _FORTIFY_SOURCE
    # (cmake/Hardening.cmake says why): that one tag is expected there, and only there.
    sanitized = sanitizers.enabled()
    p = run(["lintian", "--allow-root", "--pedantic", "--display-info", deb], timeout=300)
    print(p.stdout + p.stderr)
    tags = [line for line in p.stdout.splitlines() if "hardening" in line
            and not (sanitized and "hardening-no-fortify-functions" in line)]
    assert not tags, "lintian hardening tags:\n" + "\n".join(tags)
    root = os.path.join(os.path.dirname(deb), "x")
    assert run(["dpkg-deb", "--extract", deb, root]).returncode == 0
    binary = os.path.join(root, "usr/bin/community-gateway")
    dyn = run(["readelf", "--dynamic", "--wide", binary]).stdout
    assert re.search(r"\(FLAGS\)\s+BIND_NOW", dyn) and re.search(r"\(FLAGS_1\)\s+Flags:.*NOW.*PIE", dyn), dyn
    assert "GNU_RELRO" in run(["readelf", "--program-headers", "--wide", binary]).stdout
    syms = run(["readelf", "--dyn-syms", "--wide", binary]).stdout
    if not sanitized:
        assert re.search(r"__\w+_chk@", syms), "no fortified libc calls"
    assert "__stack_chk_fail" in syms


def exposure(unit_path):
    p = run(["systemd-analyze", "security", "--offline=true", unit_path])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", p.stdout + p.stderr)
    assert m, p.stdout + p.stderr
    return float(m.group(1))


def test_unit_exposure_is_low_and_recorded(deb, tmp_path):
    root = tmp_path / "root"
    assert run(["dpkg-deb", "--extract", deb, str(root)]).returncode == 0
    unit = (root / "lib/systemd/system/community-gateway.service").read_text()
    for want in ("SystemCallFilter=@system-service", "ProtectProc=invisible", "ProcSubset=pid", "PrivateUsers=yes"):
        assert want in unit, want
    check = tmp_path / "community-gateway.service"
    check.write_text(unit.replace("/usr/bin/community-gateway", str(root / "usr/bin/community-gateway")))
    figure = exposure(str(check))
    src = os.environ.get("GATEWAY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(src, "README.md")) as f:
        recorded = re.search(r"`systemd-analyze security community-gateway` rates the unit (\d+\.\d)", f.read())
    assert recorded, "README does not record the unit's exposure"
    assert figure <= 2.0, figure
    assert float(recorded.group(1)) == figure, "README says %s, systemd-analyze %s" % (recorded.group(1), figure)


def expand_syscall_set(name, seen=None):
    """The system calls of a systemd syscall set, its nested sets included, as this
    machine's systemd (252 on Debian 12) defines them."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    out = run(["systemd-analyze", "syscall-filter", name]).stdout
    names = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        names |= expand_syscall_set(word, seen) if word.startswith("@") else {word}
    assert names, "systemd-analyze knows no set " + name
    return names


def allowed_syscalls(unit):
    """The calls the unit's SystemCallFilter lines allow: the first is an allow list,
    each later "~" line takes calls out of it."""
    allowed, denied = set(), set()
    for line in unit.splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1]
        target = allowed
        if value.startswith("~"):
            target, value = denied, value[1:]
        for item in value.split():
            target |= expand_syscall_set(item) if item.startswith("@") else {item}
    assert allowed, "no SystemCallFilter allow list in the unit"
    return allowed - denied


def test_installed_default_is_inert(deb):
    """The packaged binary on the packaged config, as the unit starts it: not as root
    (the unit's user; as root SQLite would fchown its files, which no service run does),
    with only the status page moved to a free port and the buffer to a temporary
    directory. It runs, says what is not set up in its log, on /readyz and in
    check-config, connects to nothing, stores no reading; and every system call it makes
    is one the unit's SystemCallFilter allows."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed (scripts/install-deps.sh installs it)")
    import tempfile
    from helpers import free_port
    from web import get

    # Outside pytest's 0700 tmp_path, so that the unprivileged user can reach it.
    work = tempfile.mkdtemp(prefix="cg-inert-")
    try:
        os.chmod(work, 0o755)
        inert_run(deb, work, free_port, get)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def inert_run(deb, work, free_port, get):
    import pathlib
    work = pathlib.Path(work)
    root = work / "root"
    assert run(["dpkg-deb", "--extract", deb, str(root)]).returncode == 0
    binary = str(root / "usr/bin/community-gateway")
    installed = (root / "etc/community-gateway/config.yaml").read_text()
    p = run([binary, "check-config", "--config", str(root / "etc/community-gateway/config.yaml")])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not set up yet: facilities: none configured" in p.stdout, p.stdout
    assert "not set up yet: uplink.brokers: none configured" in p.stdout, p.stdout

    port = free_port()
    assert "port: 8080" in installed
    cfg = work / "config.yaml"
    cfg.write_text(installed.replace("port: 8080", "port: %d" % port))
    os.chmod(cfg, 0o644)
    data = work / "data"
    data.mkdir()
    as_user = []
    if os.geteuid() == 0:
        os.chown(data, 65534, 65534)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    trace = work / "trace"
    log = open(work / "run.log", "w+")
    env = dict(os.environ)
    if env.get("ASAN_OPTIONS"):
        # LeakSanitizer cannot run under ptrace; the other checks still do.
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    # strace -f: every thread, from the gateway's first instruction.
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace)] + as_user +
                            [binary, "run", "--config", str(cfg), "--data-dir", str(data)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = get(port, "/readyz", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        assert ready is not None, open(work / "run.log").read()
        assert ready[0] == 503 and ready[2].startswith("not ready: not set up yet: facilities"), ready
        status = get(port, "/api/status")
        missing = json.loads(status[2])["node"]["setup_missing"]
        assert missing == ["facilities: none configured, nothing is measured",
                           "uplink.brokers: none configured, nothing is forwarded"], missing
        # Run a while as a board would after boot: the node-metrics and drain timers turn.
        time.sleep(3)
    finally:
        # SIGTERM to the gateway itself (strace would detach on its own SIGTERM and
        # leave the gateway running); strace exits with it.
        children = []
        for task in os.listdir("/proc/%d/task" % proc.pid):
            with open("/proc/%d/task/%s/children" % (proc.pid, task)) as f:
                children += [int(c) for c in f.read().split()]
        for child in children:
            os.kill(child, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            for child in children:
                os.kill(child, signal.SIGKILL)
            proc.kill()
            proc.wait(10)
            raise
    log.seek(0)
    text = log.read()
    assert proc.returncode == 0, text
    assert "not set up yet: facilities: none configured, nothing is measured" in text, text
    assert "not set up yet: uplink.brokers: none configured, nothing is forwarded" in text, text
    assert "simulator" not in text.lower(), text

    calls = set()
    connects = []
    started = False  # setpriv's own calls come before the gateway's execve
    for line in open(trace):
        if not started:
            started = re.match(r'\d+\s+execve\("%s"' % re.escape(binary), line) is not None and "= 0" in line
            continue
        m = re.match(r"\d+\s+(?:<\.\.\. )?(\w+)", line)
        if m:
            calls.add(m.group(1))
        if re.match(r"\d+\s+connect\(", line):
            connects.append(line.strip())
    assert started and len(calls) > 20, "no trace of the gateway"
    # Only local sockets: the journal/sd_notify are AF_UNIX; no AF_INET/AF_INET6 peer.
    assert not [c for c in connects if "AF_INET" in c], connects

    db = sqlite3.connect(str(data / "buffer.db"))
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    db.close()

    unit = (root / "lib/systemd/system/community-gateway.service").read_text()
    allowed = allowed_syscalls(unit)
    outside = sorted(c for c in calls if c not in allowed)
    assert not outside, "system calls outside the unit's SystemCallFilter: %s" % outside
