"""Host side of the serial link to a keigov device (docs/link-protocol.md)."""
