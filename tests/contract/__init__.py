"""Contract tests: Microsoft's documented bodies, read by the client and matched by the emulator."""
