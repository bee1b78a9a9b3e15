"""Browser tests: run apart by scripts/test-browser, outside Home Assistant's plugin."""
