"""A real PostgreSQL cluster in a temporary directory on a free loopback port.

initdb (trust authentication for the test user, on loopback and its own Unix socket
directory only), pg_ctl start with -w (pg_ctl itself waits until the server accepts
connections), stop() in a finalizer. stop()/start() keep the data directory, so a test
can take the database away from the host and give it back. Queries go through psql
(Debian's postgresql-client), which the package brings; no Python driver needed.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from helpers import free_port


def find_pg_bin():
    """The directory of initdb/pg_ctl (Debian keeps them out of PATH), or None."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    return None


class Postgres:
    def __init__(self, workdir, name="postgres"):
        self.bin = find_pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (postgresql-15)")
        # Under root the server runs as another user, who cannot enter pytest's 0700
        # tmp_path: the cluster gets a directory of its own, removed by cleanup().
        self.dir = tempfile.mkdtemp(prefix="pg-%s-" % name) if os.geteuid() == 0 else os.path.join(str(workdir), name)
        self._own_dir = os.geteuid() == 0
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.user = "host_test"
        self.dbname = "town"
        self._env = dict(os.environ)
        self._demote = None
        # The server refuses to run as root: run it as nobody's peer account when root.
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres") if _has_user("postgres") else pwd.getpwnam("nobody")
            self._uid, self._gid = pw.pw_uid, pw.pw_gid

            def demote():
                os.setgid(self._gid)
                os.setuid(self._uid)
            self._demote = demote

    def _run(self, args, **kw):
        return subprocess.run(args, preexec_fn=self._demote, capture_output=True, text=True, timeout=120, **kw)

    def start(self):
        os.makedirs(self.sock, exist_ok=True)
        if self._demote:
            for d in (self.dir, self.sock):
                os.chown(d, self._uid, self._gid)
        if not os.path.exists(self.data):
            r = self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user, "--auth=trust",
                           "-E", "UTF8", "--no-sync"])
            assert r.returncode == 0, "initdb failed: " + r.stdout + r.stderr
        if self.port is None:
            self.port = free_port()
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on -c max_connections=50" % (self.port, self.sock)
        r = self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log_path, "-w", "-t", "60",
                       "-o", opts, "start"])
        assert r.returncode == 0, "pg_ctl start failed: " + r.stdout + r.stderr + self.log_text()
        if not self._db_exists():
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")

    def _db_exists(self):
        return self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % self.dbname, db="postgres") == "1"

    def stop(self, mode="fast"):
        if self.port is None or not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])

    def cleanup(self):
        self.stop(mode="immediate")
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d dbname=%s user=%s connect_timeout=5" % (self.port, self.dbname, self.user)

    def psql(self, sql, db=None):
        """Rows of a query as text: columns joined by '|', rows by newlines."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", self.user, "-d", db or self.dbname, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "psql failed: %s\n%s" % (sql, r.stderr)
        return r.stdout.strip()

    def scalar(self, sql):
        out = self.psql(sql)
        return int(out) if out.lstrip("-").isdigit() else out

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def print_log(self):
        print("---- postgres log ----")
        print(self.log_text()[-20000:])


def _has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
