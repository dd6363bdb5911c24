"""DBC handling on the host: signal maps and the compiler of firmware tables."""
