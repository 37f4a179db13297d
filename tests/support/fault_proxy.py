"""A TCP proxy on loopback between the gateway and its broker that can break the link on
command, for runs where network namespaces are not wanted (the soak benchmark) or not
available:

    proxy = FaultProxy(("127.0.0.1", broker_port))
    gateway -> proxy.uri -> broker
    proxy.cut()    # every connection closed, new ones closed at once (a partition with RST)
    proxy.stall()  # nothing forwarded, nothing closed: a half-open link, as a blackhole
                   # that TCP retransmission would recover from after heal()
    proxy.heal()

While stalled, the proxy stops reading, so the kernel buffers fill and the sender is
held back, as on a link that drops every packet; after heal() the stream continues intact.
"""

import select
import socket
import threading


def listen_loopback():
    """A listening TCP socket on an ephemeral loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def accept_each(sock, on_client):
    """Calls on_client(client socket) for every connection accepted on sock, on a
    daemon thread, until sock is closed."""
    def loop():
        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                return
            on_client(client)
    threading.Thread(target=loop, daemon=True).start()


def connect_upstream(client, target):
    """The proxy's connection to target for an accepted client, or None (client closed)."""
    try:
        upstream = socket.create_connection(target, timeout=5)
        upstream.settimeout(None)
        return upstream
    except OSError:
        close_all((client,))
        return None


class FaultProxy:
    def __init__(self, target):
        self.target = target
        self.sock = listen_loopback()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._lock = threading.Lock()
        self._pairs = []
        self._state = "pass"
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = False
        accept_each(self.sock, self._accept)

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    @property
    def state(self):
        return self._state

    def cut(self):
        with self._lock:
            self._state = "cut"
            pairs, self._pairs = self._pairs, []
        self._flowing.set()
        for pair in pairs:
            close_all(pair)

    def stall(self):
        with self._lock:
            self._state = "stall"
        self._flowing.clear()

    def heal(self):
        with self._lock:
            self._state = "pass"
        self._flowing.set()

    def stop(self):
        self._stopped = True
        self.sock.close()
        self.cut()
        self._flowing.set()

    def _accept(self, client):
        if self._state == "cut" or self._stopped:
            close_all((client,))
            return
        upstream = connect_upstream(client, self.target)
        if upstream is None:
            return
        pair = (client, upstream)
        with self._lock:
            self.connections += 1
            self._pairs.append(pair)
        threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                self._flowing.wait()
                ready, _, _ = select.select([src], [], [], 0.2)
                if not ready or not self._flowing.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        close_all(pair)


def close_all(socks):
    """Shuts down and closes sockets, ignoring those already gone."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass
