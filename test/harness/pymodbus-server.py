"""A Modbus server from outside this project for the gateway tests: Debian's python3-pymodbus
(3.0.0rc1 in /usr/bin/python3). Serves the registers of a JSON spec over Modbus TCP (socket
framer) or Modbus RTU over TCP (rtu framer), and logs every read it serves, one line
"<unit> <fc> <address> <count>", so a test counts requests at the server.

  /usr/bin/python3 pymodbus-server.py PORT socket|rtu SPEC.json LOG
  SPEC: {"<unit>": {"holding": {"<addr>": <0..65535>}, "input": {...}, "coil": {"<addr>": true}, "discrete": {...},
                    "values": [{"space": "holding", "address": 4, "type": "float32", "order": "CDAB", "value": 1.5}]}}
  A value is packed with Python's struct (big-endian, ABCD) and its 16-bit words then reordered:
  CDAB reverses the words, BADC swaps the two bytes of each word, DCBA does both.
Prints "ready <port>" when listening.
"""
import asyncio
import json
import logging
import struct
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
logging.getLogger().setLevel(logging.CRITICAL)
port, framer, spec_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
spec = json.load(open(spec_file))
log = open(log_file, "a", buffering=1)


FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d", "int64": "q", "uint64": "Q"}


def words(kind, order, value):
    if isinstance(value, str):  # integers beyond 2^53, which JSON from JavaScript cannot carry
        value = int(value)
    b = struct.pack(">" + FORMATS[kind], value)
    w = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ("CDAB", "DCBA"):
        w.reverse()
    if order in ("BADC", "DCBA"):
        w = [x[::-1] for x in w]
    return [int.from_bytes(x, "big") for x in w]


class CountingContext(ModbusSlaveContext):
    def __init__(self, unit, **kwargs):
        super().__init__(**kwargs)
        self.unit = unit

    def getValues(self, fc_as_hex, address, count=1):
        log.write(f"{self.unit} {fc_as_hex} {address} {count}\n")
        return super().getValues(fc_as_hex, address, count)


def block(values, default):
    return ModbusSparseDataBlock({int(a): v for a, v in values.items()} or {0: default})


slaves = {}
for unit, spaces in spec.items():
    for v in spaces.get("values", []):
        for i, w in enumerate(words(v["type"], v.get("order", "ABCD"), v["value"])):
            spaces.setdefault(v["space"], {})[str(v["address"] + i)] = w
    slaves[int(unit)] = CountingContext(
        int(unit),
        hr=block(spaces.get("holding", {}), 0), ir=block(spaces.get("input", {}), 0),
        co=block(spaces.get("coil", {}), False), di=block(spaces.get("discrete", {}), False),
        zero_mode=True,
    )
context = ModbusServerContext(slaves=slaves, single=False)


async def main():
    server = ModbusTcpServer(context, ModbusRtuFramer if framer == "rtu" else ModbusSocketFramer, None, ("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(0.2)
    print(f"ready {port}", flush=True)
    await task


asyncio.run(main())
