"""Talking to a PyQueue server: the protocol without I/O (``wire``), the HTTP client (``http``).

Transports never import backends; the remote backend composes the two.
"""
