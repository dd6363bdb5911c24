"""RP2040 and ESP32 boards with an MCP2515 CAN controller on SPI (8 MHz crystal, 500
kbit/s), the link on the REPL's console (USB CDC on a Pico, the USB UART on an ESP32),
flash in flash.img on the board's littlefs (docs/boards.md). Registered as
"rp2-mcp2515" and "esp32-mcp2515"; the wiring below is each board's default."""
import sys
import time

import machine
from micropython import const

from boards import realboard
from drivers.mcp2515 import MCP2515

BLOCK = const(4096)
SLOT_BLOCKS = const(16)   # 64 kB per configuration slot
EVENT_BLOCKS = const(4)
CRYSTAL_HZ = const(8000000)
# SPI id, sck, mosi, miso, cs
WIRING = {"rp2": (0, 18, 19, 16, 17), "esp32": (2, 18, 23, 19, 5)}


def can_controller():
    spi_id, sck, mosi, miso, cs = WIRING[sys.platform]
    spi = machine.SPI(spi_id, baudrate=8000000, polarity=0, phase=0, sck=machine.Pin(sck),
                      mosi=machine.Pin(mosi), miso=machine.Pin(miso))
    return MCP2515(spi, machine.Pin(cs, machine.Pin.OUT, value=1), CRYSTAL_HZ, time.sleep_ms)


def provision(record):
    realboard.provision(record, BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)


def main(argv):
    realboard.start(can_controller(), realboard.StdioPort(), sys.platform + "-mcp2515", machine.reset,
                    realboard.dupterm_off, BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)
