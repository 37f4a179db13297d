"""Brokers that misbehave in ways a real mosquitto will not, scripted byte by byte
(MQTT 3.1.1, just the packets an edge node sends).

SilentBroker accepts the connection (CONNACK 0), answers SUBSCRIBE and PINGREQ, and
swallows every PUBLISH without a PUBACK: TCP and keep-alive look healthy while nothing
is ever acknowledged.
"""

import socket
import threading

CONNECT, PUBLISH, SUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 8, 12, 14


def _read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_packet(conn):
    """(packet type, flags, body) of the next MQTT packet."""
    first = _read_exact(conn, 1)[0]
    length, shift = 0, 0
    while True:
        b = _read_exact(conn, 1)[0]
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 21:
            raise ValueError("remaining length too long")
    return first >> 4, first & 0x0F, _read_exact(conn, length)


class _ScriptedBroker:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connects = 0
        self.publishes = 0
        self._conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn):
        try:
            self._serve(conn)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            conn.close()

    def stats(self):
        with self.lock:
            return {"connects": self.connects, "publishes": self.publishes}

    def stop(self):
        self._stop = True
        self.sock.close()
        with self.lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()


class SilentBroker(_ScriptedBroker):
    def _serve(self, conn):
        while True:
            kind, flags, body = read_packet(conn)
            if kind == CONNECT:
                with self.lock:
                    self.connects += 1
                conn.sendall(b"\x20\x02\x00\x00")
            elif kind == SUBSCRIBE:
                packet_id = body[:2]
                # One granted QoS 1 per topic filter: count the filters.
                i, n = 2, 0
                while i < len(body):
                    tlen = int.from_bytes(body[i:i + 2], "big")
                    i += 2 + tlen + 1
                    n += 1
                conn.sendall(bytes([0x90, 2 + n]) + packet_id + b"\x01" * n)
            elif kind == PINGREQ:
                conn.sendall(b"\xd0\x00")
            elif kind == PUBLISH:
                with self.lock:
                    self.publishes += 1
            elif kind == DISCONNECT:
                return

