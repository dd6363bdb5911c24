"""One device, whole: storage, configuration, zones, the governor and the link.

Every board builds a Node from its own hardware and calls `step(now)` once per control
period, so what runs on the sim board is what runs on the vehicle:

    can       frames in and out (core.app)
    watchdog  feed()
    flash     block device (core.persist): provisioning record, two configuration
              slots, the event log
    port      serial port for the link (readinto(buf, n) / write(buf, n), never
              blocking), or None for a board without one

Boot reads the installed configuration (signed, checked again here) and the zone tables
in it; a device with none runs on the defaults with the CONFIG_DEFAULTS flag raised.
A configuration put over the link runs from the next boot: `reboot_requested` tells the
board to reset (a board calls machine.reset(); the sim board builds a new Node).

A development device (not provisioned for production) lets mpremote break in on the link
port: `break_requested` tells the board to leave its loop for the REPL, as Ctrl-C would
(core/link.py). A production device never does (`production`, from the provisioning
record); its board also detaches the REPL from the port (docs/boards.md).
"""
from micropython import const

from core import cfgblob, events, geofence, le, link, roles, service
from core.app import Governor
from core.storage import Stored

FIRMWARE_VERSION = "0.1.0"
LINK_BUDGET = const(128)     # bytes per period: more than 115200 baud brings in 10 ms
SLOT_BLOCKS = const(64)      # 4 kB blocks: 256 kB per configuration slot (zones included)
EVENT_BLOCKS = const(4)


def installed_zones(store):
    """The zone tables of the installed configuration (an empty Fence if it has none)."""
    if store.active < 0:
        return geofence.Fence()
    view = store.slots.views[store.active]
    hdr = bytearray(cfgblob.HEADER)
    view.readinto(0, hdr)
    at = cfgblob.HEADER
    end = at + le.get_u32(hdr, 12)
    sh = bytearray(cfgblob.SECTION_HEADER)
    while at + cfgblob.SECTION_HEADER <= end:
        view.readinto(at, sh)
        n = le.get_u32(sh, 4)
        at += cfgblob.SECTION_HEADER
        if sh[0] == cfgblob.SEC_ZONES:
            return geofence.load_section(view, at, n)
        at += n
    return geofence.Fence()


class Node:
    def __init__(self, can, watchdog, flash, table, port=None, board="sim",
                 slot_blocks=SLOT_BLOCKS, event_blocks=EVENT_BLOCKS):
        self.stored = st = Stored(flash, slot_blocks, event_blocks, table.SOURCE.encode(),
                                  {cfgblob.SEC_ZONES: geofence.check_section})
        self.cfg = st.cfg
        self.fence = installed_zones(st.store)
        self.app = Governor(can, watchdog, table, st.cfg, fence=self.fence)
        self.app.log.set_origin(st.store.running_version)   # the zones positions are relative to
        self.events = st.events
        self.service = service.DeviceService(FIRMWARE_VERSION, board, service.GovernorStatus(self.app),
                                             st.store, st.events, self.clear_faults)
        prov = st.prov
        self.production = prov is not None and prov.production
        self.link = None
        if port is not None:
            self.link = link.Link(port, self.service, break_in=not self.production)
            self.service.link = self.link
        self._persisted = 0      # sequence number in the RAM log of the next event to persist
        self._now = 0
        self._installed = st.store.version  # a commit over the link changes it: an event

    @property
    def reboot_requested(self):
        return self.service.reboot_requested

    @property
    def break_requested(self):
        return self.link is not None and self.link.break_requested

    def step(self, now):
        """One control period: the governor first, then bounded housekeeping."""
        self._now = now
        self.app.step(now)
        # One record per period at most: a flash write is slow and a fault storm must
        # not stretch the loop. The RAM ring drops the oldest if storage falls behind.
        self._persisted = self.events.drain(self.app.log, self._persisted, 1)
        if self.link is not None:
            self.link.poll(LINK_BUDGET)
            version = self.stored.store.version
            if version != self._installed:
                self._installed = version
                self.app.log.record(events.CONFIG_INSTALLED, now, version)

    def install(self, blob):
        """Install a signed configuration through the same checks as the link's config
        put and commit. Returns a link status; on E_REJECTED the store's `reason` and
        `detail` say why (core.cfgblob.R_*). It runs from the next boot."""
        store = self.stored.store
        total = len(blob)
        at = 0
        while True:
            n = total - at if total - at < service.PUT_DATA_MAX else service.PUT_DATA_MAX
            status = store.put(total, at, blob, at, n)
            if status != link.OK:
                return status
            at += n
            if at >= total:
                return store.commit()

    def clear_faults(self):
        """The operator's reset of latched warnings; refused while a fault is present."""
        s = self.app.safety
        if s.flags & roles.FAULT_FLAGS:
            return link.E_BUSY
        s.flags &= ~(1 << roles.FLAG_OVERSPEED)
        self.app.log.record(events.FAULTS_CLEARED, self._now, 0)
        return link.OK
