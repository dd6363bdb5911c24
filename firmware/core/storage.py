"""What a reset must find again, loaded from storage in one call at boot.

    st = Stored(dev, slot_blocks, event_blocks, tables.SOURCE.encode())
    st.cfg      the configuration to run (the installed one, or the defaults with a reason)
    st.store    core.cfgstore.ConfigStore: installed configuration, transfers over the link
    st.events   core.evstore.EventStore: the persisted event log
    st.prov     core.persist.Provision, or None on a device not provisioned yet

`dev` is any block device of core.persist (a flash partition, or core.memstorage).
`section_checks` maps a configuration section type to the checker of its loader (the
zone tables' one, for core.cfgblob.SEC_ZONES).
"""
from core import config, persist
from core.cfgstore import ConfigStore
from core.evstore import EventStore


class Stored:
    def __init__(self, dev, slot_blocks, event_blocks, tables_source=None, section_checks=None):
        self.layout = persist.Layout(dev, slot_blocks, event_blocks)
        self.prov = persist.load_provision(self.layout.prov)
        self.slots = persist.ConfigSlots(self.layout.slot_a, self.layout.slot_b)
        self.store = ConfigStore(self.slots, self.prov, tables_source, section_checks)
        self.cfg = config.Config()
        self.store.boot(self.cfg)
        self.events = EventStore(self.layout.events)
