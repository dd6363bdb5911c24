"""Fleet configuration: the operator's CONFIG.toml, per-device keys and the signed blob
the device installs (format: docs/link-protocol.md, "Configuration blob")."""
