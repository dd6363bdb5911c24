"""The installed configuration and the transfer of a new one.

Boot: `boot(cfg)` loads the newest slot that passes every check of core.cfgblob into a
core.config.Config, falling back to the other slot, then to the defaults (with
cfg.defaults_reason = REJECT_MISSING or REJECT_BLOB + the reason the newest failed).

Transfer (the link's config put / commit): the first chunk (offset 0) carries the blob's
header, which is checked at once so a wrong device or oversized blob is refused before
storage is touched; chunks then stream into the slot not in use, in order, each read
back as it is written, and the HMAC runs over them as they pass. `commit()` checks the
MAC, the version against the installed one and every value, and only then writes the
slot header that makes the new configuration the one the next boot loads. Each call
does work bounded by its chunk (commit: one parameters section), so the control loop
keeps its period during a transfer. A new configuration runs from the next boot.
"""
from micropython import const

from core import cfgblob, config, link
from core.cfgblob import HEADER, MAC_SIZE, NO_DETAIL, OK, Checker
from core.hmac256 import HmacSha256

REJECT_BLOB = const(0x100)  # defaults_reason: REJECT_BLOB + cfgblob.R_* of the newest slot


class ConfigStore:
    def __init__(self, slots, prov, tables_source=None, section_checks=None):
        self.slots = slots
        self.prov = prov
        self.checker = Checker(prov, tables_source, section_checks)
        self.hm = HmacSha256(prov.key) if prov is not None else None
        self.active = -1           # slot holding the installed configuration
        self.version = 0           # its version (0: none)
        self.running_version = 0   # the version loaded at boot
        self.boot_reason = 0       # cfg.defaults_reason of the last boot (0: stored config runs)
        self.mac8 = bytearray(8)   # first bytes of the installed blob's MAC: its identity
        self.reason = OK           # why the last transfer or boot load was refused
        self.detail = NO_DETAIL
        self._total = -1           # length of the transfer in progress, -1 none
        self._target = -1

    # -- boot --------------------------------------------------------------------------

    def boot(self, cfg):
        s = self.slots
        order = [i for i in (0, 1) if s.valid[i]]
        if len(order) == 2 and s.version[1] > s.version[0]:
            order.reverse()
        refused = -1  # why the newest stored configuration failed
        for i in order:
            reason = self._verify(i)
            if reason == OK:
                self.checker.apply(cfg)
                self._install(i)
                self.running_version = self.version
                cfg.defaults_reason = self.boot_reason = 0
                return OK
            if refused < 0:
                refused = reason
                self.reason = reason
                self.detail = self.checker.detail
            s.valid[i] = False  # not loadable: the next transfer may overwrite it
        cfg.defaults_reason = config.REJECT_MISSING if refused < 0 else REJECT_BLOB + refused
        self.boot_reason = cfg.defaults_reason
        return cfg.defaults_reason

    def _verify(self, i):
        if self.prov is None:
            return cfgblob.R_NOT_PROVISIONED
        s = self.slots
        return self.checker.verify(s.views[i], s.length[i], s.capacity, self.hm, 0)

    def _install(self, i):
        self.active = i
        self.version = self.slots.version[i]
        mac = bytearray(MAC_SIZE)
        self.slots.views[i].readinto(self.slots.length[i] - MAC_SIZE, mac)
        for k in range(8):
            self.mac8[k] = mac[k]

    # -- transfer ----------------------------------------------------------------------

    def _refuse(self, reason):
        self.reason = reason
        self.detail = self.checker.detail
        self._total = -1
        self.slots.abandon()
        return link.E_REJECTED

    def put(self, total, offset, data, off, n):
        """Take data[off:off+n] at `offset` of a blob of `total` bytes; a link status."""
        hm = self.hm   # made from the provisioning record's key: None exactly when prov is
        if hm is None:
            self.reason = cfgblob.R_NOT_PROVISIONED
            self.detail = NO_DETAIL
            return link.E_NOT_PROVISIONED
        if offset == 0:
            self._total = -1
            if total < 0:
                return self._refuse(cfgblob.R_TOO_LARGE)
            if n < HEADER and total >= HEADER:
                return link.E_ARGUMENT  # the first chunk must carry the whole header
            reason = self.checker.header(data, off, total, self.slots.capacity)
            if reason:
                return self._refuse(reason)
            self._target = self._free_slot()
            self.slots.begin(self._target)
            hm.start()
            self._total = total
        elif self._total < 0:
            return link.E_NO_TRANSFER
        elif total != self._total or offset != self.slots.written:
            return link.E_OFFSET
        if offset + n > total:
            return link.E_OFFSET
        if not self.slots.write(data, off, n):
            self._total = -1
            self.slots.abandon()
            return link.E_STORAGE
        signed = total - MAC_SIZE - offset  # bytes of this chunk before the MAC trailer
        if signed > 0:
            hm.update(memoryview(data)[off : off + (n if n < signed else signed)])
        return link.OK

    def _free_slot(self):
        if self.active >= 0:
            return 1 - self.active
        s = self.slots
        if not s.valid[0]:
            return 0
        if not s.valid[1]:
            return 1
        return 0 if s.version[0] < s.version[1] else 1

    def commit(self):
        """Check the transferred blob whole and make it the installed one; a link status."""
        hm = self.hm
        if self._total < 0 or hm is None:   # a transfer starts only on a provisioned device
            return link.E_NO_TRANSFER
        total = self._total
        if self.slots.written != total:
            return self._refuse(cfgblob.R_TRUNCATED)
        c = self.checker
        view = self.slots.views[self._target]
        reason = c.check_mac(view, total, hm.digest())
        if reason == OK:
            reason = c.fresh(self.version)
        if reason == OK:
            reason = c.content(view, total)
        if reason:
            return self._refuse(reason)
        self._total = -1
        if not self.slots.finish(c.version):
            return link.E_STORAGE
        self._install(self._target)
        self.reason = OK
        self.detail = NO_DETAIL
        return link.OK

    def read(self, offset, out, off, n):
        """Copy up to n bytes of the installed blob from `offset`; bytes copied, -1 if none."""
        if self.active < 0:
            return -1
        length = self.slots.length[self.active]
        if offset >= length:
            return 0
        if n > length - offset:
            n = length - offset
        self.slots.views[self.active].readinto(offset, memoryview(out)[off : off + n])
        return n

    def installed_length(self):
        return self.slots.length[self.active] if self.active >= 0 else 0
