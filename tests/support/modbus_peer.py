"""A Modbus device for the integration tests: a real pymodbus 3.0 server (Debian
python3-pymodbus) in its own process, so that a test can kill it (a device that dies)
and start it again on the same port or serial line.

Run as a script:  modbus_peer.py tcp PORT  |  modbus_peer.py rtu DEVICE BAUD
It prints "ready" once it serves, then reads JSON commands from stdin, one per line,
and answers each with "ok":
  {"op": "set", "table": "hr"|"ir"|"co"|"di", "address": 0, "values": [1, 2]}
  {"op": "garble", "count": 3}   the next 3 replies are corrupted on the wire
                                 (TCP: wrong function code; RTU: wrong CRC)
  {"op": "get", "table": "co", "address": 0, "count": 1}
                                 answered with the values as JSON (e.g. [1]) instead of
                                 "ok": what the gateway wrote (coils, holding registers)
  {"op": "answer_as", "unit": 7} every reply carries unit id 7, whatever the request's
                                 (a TCP gateway to an RS-485 bus that mixes up its
                                 devices); "unit": null goes back to echoing it
ModbusPeer is the test-side handle.
"""

import json
import os
import subprocess
import sys
import threading

_FC = {"co": 1, "di": 2, "hr": 3, "ir": 4}


class ModbusPeer:
    def __init__(self, mode, where, baud=9600, log_path=None):
        self.mode, self.where, self.baud = mode, where, baud
        self.proc = None
        self.log_path = log_path
        self.values = {}  # (table, address) -> [value], replayed on restart: a device keeps its registers

    def start(self, timeout=15.0):
        args = [sys.executable, os.path.abspath(__file__), self.mode, str(self.where)]
        if self.mode == "rtu":
            args.append(str(self.baud))
        err = open(self.log_path, "a") if self.log_path else subprocess.DEVNULL
        # A device that comes back keeps its registers: they are set before it serves,
        # so that no poll sees zeros in between (which would read as a counter reset).
        env = dict(os.environ, MODBUS_PEER_INIT=json.dumps([[t, a, v] for (t, a), v in self.values.items()]))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                     text=True, bufsize=1, env=env)
        line = self._readline(timeout)
        if line != "ready":
            raise RuntimeError("modbus peer did not start: %r" % line)

    def _readline(self, timeout):
        out = [None]

        def read():
            out[0] = self.proc.stdout.readline().strip()
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise RuntimeError("modbus peer: no answer within %.0f s" % timeout)
        return out[0]

    def _command(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        if self._readline(10) != "ok":
            raise RuntimeError("modbus peer refused %r" % cmd)

    def set(self, table, address, values):
        for i, v in enumerate(values):
            self.values[(table, address + i)] = [v]
        self._command({"op": "set", "table": table, "address": address, "values": list(values)})

    def get(self, table, address, count=1):
        """The device's values now: what a master wrote shows here."""
        self.proc.stdin.write(json.dumps({"op": "get", "table": table, "address": address, "count": count}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._readline(10))

    def garble(self, count):
        self._command({"op": "garble", "count": count})

    def answer_as(self, unit):
        """Replies carry unit id `unit` from now on (None: the request's, as normal)."""
        self._command({"op": "answer_as", "unit": unit})

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    stop = kill


# -- helpers for register values -------------------------------------------------------

def u32_words(v, word_order="big"):
    hi, lo = (v >> 16) & 0xFFFF, v & 0xFFFF
    return [hi, lo] if word_order == "big" else [lo, hi]


def f32_words(x, word_order="big"):
    import struct
    (u,) = struct.unpack(">I", struct.pack(">f", x))
    return u32_words(u, word_order)


def i16_word(v):
    return v & 0xFFFF


# -- the server process ----------------------------------------------------------------

def _serve(mode, where, baud):
    import asyncio
    import logging
    from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
    from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
    from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    size = 400
    slave = ModbusSlaveContext(di=ModbusSequentialDataBlock(0, [0] * size),
                               co=ModbusSequentialDataBlock(0, [0] * size),
                               hr=ModbusSequentialDataBlock(0, [0] * size),
                               ir=ModbusSequentialDataBlock(0, [0] * size))
    context = ModbusServerContext(slaves=slave, single=True)
    for table, address, values in json.loads(os.environ.get("MODBUS_PEER_INIT", "[]")):
        context[0].setValues(_FC[table], address, values)
    garble = [0]
    answer_as = [None]
    lock = threading.Lock()
    framer = ModbusSocketFramer if mode == "tcp" else ModbusRtuFramer

    def manipulate(response):
        with lock:
            if answer_as[0] is not None:
                # pymodbus encodes the reply (MBAP byte 6 for TCP) from this field.
                response.unit_id = answer_as[0]
            if garble[0] <= 0:
                return response, False
            garble[0] -= 1
        packet = bytearray(framer(None).buildPacket(response))
        if mode == "tcp":
            packet[7] ^= 0x10  # function code: the reply no longer matches the request
        else:
            packet[-1] ^= 0xFF  # CRC
        return bytes(packet), True

    def commands():
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "set":
                with lock:
                    context[0].setValues(_FC[cmd["table"]], cmd["address"], cmd["values"])
            elif cmd["op"] == "garble":
                with lock:
                    garble[0] = cmd["count"]
            elif cmd["op"] == "answer_as":
                with lock:
                    answer_as[0] = cmd["unit"]
            elif cmd["op"] == "get":
                with lock:
                    got = context[0].getValues(_FC[cmd["table"]], cmd["address"], cmd.get("count", 1))
                print(json.dumps([int(v) for v in got]), flush=True)
                continue
            print("ok", flush=True)
        os._exit(0)  # stdin closed: the test is gone

    async def main():
        if mode == "tcp":
            server = ModbusTcpServer(context, framer=framer, address=("127.0.0.1", int(where)),
                                     allow_reuse_address=True, response_manipulator=manipulate)
        else:
            server = ModbusSerialServer(context, framer=framer, port=where, baudrate=int(baud),
                                        response_manipulator=manipulate)
        if mode == "rtu":
            await server.start()  # pymodbus 3.0: a serial server opens its port here
            if server.transport is None:
                raise SystemExit("cannot open %s" % where)
        task = asyncio.ensure_future(server.serve_forever())
        if mode == "tcp":
            await asyncio.wait_for(server.serving, 10)
        threading.Thread(target=commands, daemon=True).start()
        print("ready", flush=True)
        await task

    asyncio.run(main())


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 9600)
