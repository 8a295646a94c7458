"""Turning page data into bytes: the simple API's JSON and HTML (no I/O here)."""
