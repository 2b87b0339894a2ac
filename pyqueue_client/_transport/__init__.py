"""Talking to a queue server over HTTP: the REST calls without I/O (``rest_calls``), the HTTP
client (``http_client``) and the credentials it adds to each request (``auth``).

Transports never import backends; the remote backend composes them.
"""
