"""Disk I/O primitives: inter-process locks, atomic durable writes, the JSON queue file format."""
