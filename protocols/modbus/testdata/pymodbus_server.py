#!/usr/bin/python3
"""A Modbus TCP server made with pymodbus, a third-party implementation, for
Fieldline's Modbus source tests.

It binds 127.0.0.1 on a free port, prints "PORT <n>" on stdout once it
listens, and serves until its standard input closes. The registers hold known
values encoded by pymodbus's own BinaryPayloadBuilder, so the test checks our
decoder against another project's encoder:

unit 1 (zero-based addresses)
  holding 0      int16   -123
  holding 1      uint16  5000
  holding 2-3    uint32  123456789          ABCD
  holding 4-5    float32 21.5               ABCD
  holding 6-7    float32 21.5               CDAB (word order little)
  holding 8-11   float64 -273.15            ABCD
  holding 12-13  int32   -100000            CDAB
  holding 14-15  float32 21.5               DCBA (byte and word order little)
  input 0-3      uint64  9876543210         ABCD
  coils 0-2      1 0 1
  discrete 0     1
  (holding 16..19 exist and hold 0; addresses from 20 on answer exception 2)
unit 2
  holding 0      uint16  42
"""
import asyncio
import logging
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.server.async_io import ModbusTcpServer


def regs(build, byteorder=Endian.Big, wordorder=Endian.Big):
    b = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
    build(b)
    return b.to_registers()


def unit1():
    hr = []
    hr += regs(lambda b: b.add_16bit_int(-123))
    hr += regs(lambda b: b.add_16bit_uint(5000))
    hr += regs(lambda b: b.add_32bit_uint(123456789))
    hr += regs(lambda b: b.add_32bit_float(21.5))
    hr += regs(lambda b: b.add_32bit_float(21.5), wordorder=Endian.Little)
    hr += regs(lambda b: b.add_64bit_float(-273.15))
    hr += regs(lambda b: b.add_32bit_int(-100000), wordorder=Endian.Little)
    hr += regs(lambda b: b.add_32bit_float(21.5), byteorder=Endian.Little, wordorder=Endian.Little)
    hr += [0] * (20 - len(hr))
    ir = regs(lambda b: b.add_64bit_uint(9876543210))
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, hr),
        ir=ModbusSequentialDataBlock(0, ir),
        co=ModbusSequentialDataBlock(0, [True, False, True]),
        di=ModbusSequentialDataBlock(0, [True]),
        zero_mode=True,
    )


def unit2():
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [42]),
        ir=ModbusSequentialDataBlock(0, [0]),
        co=ModbusSequentialDataBlock(0, [False]),
        di=ModbusSequentialDataBlock(0, [False]),
        zero_mode=True,
    )


async def main():
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    context = ModbusServerContext(slaves={1: unit1(), 2: unit2()}, single=False)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    print("PORT", port, flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the test closes our standard input.
    await loop.run_in_executor(None, sys.stdin.read)
    await server.shutdown()
    task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
