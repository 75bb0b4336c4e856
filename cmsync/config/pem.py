"""Check that a CA bundle or a private key file holds what its setting promises, so a wrong file is a
configuration error at ``check-config`` rather than a TLS or signing failure at every run."""

import re
import ssl
from pathlib import Path

from cmsync.config.files import read_small_file

_PRIVATE_KEY = re.compile(rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?)PRIVATE KEY-----")


def _deferred(path: Path) -> bool:
    """A ``credential:`` file left unread outside its systemd unit (see ``resolve_path``)."""
    return str(path).startswith("credential:")


def check_ca_file(path: Path) -> Path:
    """A bundle of PEM certificates (``-----BEGIN CERTIFICATE-----``) that TLS can load."""
    if _deferred(path):
        return path
    try:
        ssl.create_default_context().load_verify_locations(cadata=read_small_file(path).decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise ValueError(
            f"{str(path)!r} is not a PEM certificate bundle (-----BEGIN CERTIFICATE----- blocks)"
        ) from None
    return path


def check_private_key(path: Path) -> Path:
    """A PEM private key without a passphrase (``-----BEGIN PRIVATE KEY-----`` or ``RSA PRIVATE KEY``)."""
    if _deferred(path):
        return path
    marker = _PRIVATE_KEY.search(read_small_file(path))
    if marker is None:
        raise ValueError(f"{str(path)!r} is not a PEM private key (-----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)")
    if marker.group(1) == b"ENCRYPTED ":
        raise ValueError(f"{str(path)!r} is an encrypted key; cmsync needs it without a passphrase")
    return path
