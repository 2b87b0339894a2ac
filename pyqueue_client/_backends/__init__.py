"""Backends: one module each, all fulfilling ``pyqueue_client._backend.QueueBackend``."""
