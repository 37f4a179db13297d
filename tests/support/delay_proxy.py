"""A TCP proxy on loopback that holds every chunk for a fixed delay in each direction,
keeping the order: a link with that one-way latency, for kernels without netem.

    proxy = DelayProxy(("127.0.0.1", broker_port), delay_s=0.5)
    gateway -> proxy.uri -> broker
"""

import collections
import socket
import threading
import time

from fault_proxy import accept_each, connect_upstream, listen_loopback


class _Pipe:
    """One direction of one connection: a reader that timestamps chunks and a writer
    that sends each when it is due."""

    def __init__(self, src, dst, delay_s, on_close):
        self.src, self.dst, self.delay_s, self.on_close = src, dst, delay_s, on_close
        self.queue = collections.deque()
        self.cond = threading.Condition()
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self):
        try:
            while True:
                data = self.src.recv(65536)
                if not data:
                    break
                with self.cond:
                    self.queue.append((time.monotonic() + self.delay_s, data))
                    self.cond.notify()
        except OSError:
            pass
        with self.cond:
            self.eof = True
            self.cond.notify()

    def _write(self):
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.queue or self.eof)
                    if not self.queue:
                        break
                    due, data = self.queue[0]
                    wait = due - time.monotonic()
                    if wait > 0:
                        self.cond.wait(wait)
                        continue
                    self.queue.popleft()
                self.dst.sendall(data)
        except OSError:
            pass
        self.on_close()


class DelayProxy:
    def __init__(self, target, delay_s):
        self.target, self.delay_s = target, delay_s
        self.sock = listen_loopback()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._socks = []
        self._lock = threading.Lock()
        accept_each(self.sock, self._accept)

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self, client):
        upstream = connect_upstream(client, self.target)
        if upstream is None:
            return
        with self._lock:
            self.connections += 1
            self._socks += [client, upstream]

        def close(a=client, b=upstream):
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        _Pipe(client, upstream, self.delay_s, close)
        _Pipe(upstream, client, self.delay_s, close)

    def stop(self):
        self.sock.close()
        with self._lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass
