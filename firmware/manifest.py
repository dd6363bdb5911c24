# What each board gets: the one list. It is a micropython-lib freeze manifest (a board's
# own manifest freezes keigov into an image with
#     include("$(KEIGOV)/firmware/manifest.py", board="rp2-mcp2515")
# ) and the list `keigov flash` compiles and copies (keigov.fwbuild runs this file with the
# same functions and flashes exactly what it names). A board gets COMMON and its own files,
# nothing else: host-only code (cpython/, the host's DBC decoder) is never named here.

# Every board: the entry point, the board registry, the governor and the bus tables.
COMMON = (
    "main.py",
    "boards/__init__.py",
    "core/__init__.py",
    "core/app.py",
    "core/cfgblob.py",
    "core/cfgstore.py",
    "core/checksums.py",
    "core/codec.py",
    "core/config.py",
    "core/crc16.py",
    "core/events.py",
    "core/evstore.py",
    "core/geofence.py",
    "core/governor.py",
    "core/hmac256.py",
    "core/idmatch.py",
    "core/le.py",
    "core/link.py",
    "core/node.py",
    "core/persist.py",
    "core/roles.py",
    "core/rx.py",
    "core/safety.py",
    "core/service.py",
    "core/storage.py",
    "core/ticks.py",
    "core/tx.py",
    "core/zonestate.py",
    "tables/__init__.py",
    "tables/keigov_bus.py",
)

# Board name (boards/__init__.py BOARDS) -> (mpy-cross -march for `keigov flash`,
# description, the board's own files beside COMMON).
BOARDS = {
    "sim": ("x64", "the virtual dev board (keigov board): MicroPython's unix port on x86-64",
            ("boards/sim.py", "boards/ramcan.py", "core/memstorage.py")),
    "pyboard": ("armv7emsp", "STM32 pyboard, pyb.CAN (Cortex-M4F)",
                ("boards/pyboard.py", "boards/realboard.py")),
    "stm32": ("armv7emsp", "STM32 with machine.CAN, MicroPython >= 1.28",
              ("boards/mcan.py", "boards/realboard.py")),
    "mimxrt": ("armv7emdp", "MIMXRT with machine.CAN (Cortex-M7)",
               ("boards/mcan.py", "boards/realboard.py")),
    "rp2-mcp2515": ("armv6m", "RP2040 + MCP2515 on SPI (Cortex-M0+)",
                    ("boards/mcp.py", "boards/realboard.py", "drivers/__init__.py", "drivers/mcp2515.py")),
    "esp32-mcp2515": ("xtensawin", "ESP32 + MCP2515 on SPI",
                      ("boards/mcp.py", "boards/realboard.py", "drivers/__init__.py", "drivers/mcp2515.py")),
}

metadata(description="keigov speed governor", version="0.1.0")
options.defaults(board=None)
if options.board not in BOARDS:
    raise ValueError("keigov manifest: include it with board=NAME, one of " + ", ".join(sorted(BOARDS)))
for _path in COMMON + BOARDS[options.board][2]:
    _package, _, _name = _path.rpartition("/")
    if _package:
        package(_package, files=(_name,))
    else:
        module(_path)
