"""Certificates for the TLS tests: a private certificate authority and a server certificate it
signed, made at test time with the ``openssl`` command line.

Nothing trusts the authority by default, so a test that trusts it does so on purpose (a client
context with ``cafile``), and a test that does not sees the server refused. The committed set in
``tests/data/tls/`` stands in only where ``openssl`` is missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

__all__ = ["FALLBACK", "SERVER_NAMES", "TlsFiles", "make_tls_files"]

#: The committed certificates, for machines without the ``openssl`` command line.
_FALLBACK_DIR = Path(__file__).resolve().parent / "data" / "tls"
#: What the server certificate is valid for: every address a test server listens on or is named by.
SERVER_NAMES = ("DNS:localhost", "IP:127.0.0.1", "IP:::1")
#: A test run needs the certificates for minutes; a short life keeps a leaked key worthless.
_VALIDITY_DAYS = "2"
#: Strict verification (the default from Python 3.13) wants key identifiers, critical basic
#: constraints and key usages; the subject names come from ``-subj`` on each command.
_CONFIG = """\
[req]
distinguished_name = subject
prompt = no

[subject]

[authority]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = {names}
"""
#: A new P-256 key, unencrypted (``-nodes``, still accepted by OpenSSL 3) so a server can load it.
_NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


class TlsFiles(NamedTuple):
    """A certificate authority's certificate, and a server certificate it signed with its key."""

    ca: Path
    cert: Path
    key: Path


def _files_in(folder: Path) -> TlsFiles:
    """The three files under the names both the made and the committed sets use."""
    return TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")


#: The committed set: the same names and the same kind of key, valid 2000-2100.
FALLBACK = _files_in(_FALLBACK_DIR)


def make_tls_files(openssl: str, folder: Path) -> TlsFiles:
    """Make a new authority and a server certificate for ``SERVER_NAMES`` in ``folder``."""
    config = folder / "openssl.cnf"
    config.write_text(_CONFIG.format(names=", ".join(SERVER_NAMES)), encoding="utf-8")
    made = _files_in(folder)
    authority_key = folder / "ca-key.pem"
    request = folder / "server.csr"
    # Each option stays beside its value, which one argument a line would split apart.
    _run(
        openssl, "req", "-x509", *_NEW_KEY, "-keyout", str(authority_key), "-out", str(made.ca),
        "-days", _VALIDITY_DAYS, "-subj", "/CN=pyqueue test authority",
        "-config", str(config), "-extensions", "authority",
    )  # fmt: skip
    _run(
        openssl, "req", "-new", *_NEW_KEY, "-keyout", str(made.key), "-out", str(request),
        "-subj", "/CN=localhost", "-config", str(config),
    )  # fmt: skip
    _run(
        openssl, "x509", "-req", "-in", str(request), "-out", str(made.cert),
        "-CA", str(made.ca), "-CAkey", str(authority_key),
        "-CAcreateserial", "-CAserial", str(folder / "ca.srl"),
        "-days", _VALIDITY_DAYS, "-extfile", str(config), "-extensions", "server",
    )  # fmt: skip
    return made


def _run(openssl: str, *arguments: str) -> None:
    """Run one ``openssl`` command; its error output goes into the exception, where pytest shows
    it (``CalledProcessError`` alone would print only the exit status).
    """
    try:
        subprocess.run([openssl, *arguments], check=True, capture_output=True)
    except subprocess.CalledProcessError as error:
        output = error.stderr.decode("utf-8", "replace")
        raise RuntimeError(f"openssl {arguments[0]} failed: {output}") from error
