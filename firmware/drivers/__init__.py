"""Drivers for chips outside the microcontroller (an MCP2515 CAN controller over SPI)."""
