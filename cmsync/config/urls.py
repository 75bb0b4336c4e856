"""Check the URLs of the broker and the state store before anything connects with them.

These URLs may hold a password, so no message here ever quotes the URL or a part of it: each says
what is wrong and how to write it instead.
"""

from pathlib import Path
from urllib.parse import SplitResult, urlsplit

SQLITE_PREFIX = "sqlite:///"
ENCODE_HINT = "percent-encode @ : / ? # in a user name or password (@ is %40, / is %2F)"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, as SQLAlchemy reads it: ``sqlite:///state.db`` is relative to the
    working directory, ``sqlite:////var/lib/cmsync/state.db`` (four slashes) is absolute; None otherwise."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    return Path(url[len(SQLITE_PREFIX) :])


def check_server_url(url: str, schemes: tuple[str, ...], *, host_required: bool = True) -> None:
    """Raise ValueError unless ``url`` is a well-formed ``scheme://[user[:password]@]host[:port]/…`` URL."""
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise ValueError("the URL holds a space or a control character; percent-encode it (a space is %20)")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError(f"the URL's host is not valid (an IPv6 address goes in [brackets]); {ENCODE_HINT}") from None
    if parts.scheme not in schemes or not url.startswith(f"{parts.scheme}://"):
        raise ValueError(f"the URL must start with {' or '.join(f'{scheme}://' for scheme in schemes)}")
    _check_user_information(url, parts)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"the URL's port is not a number from 1 to 65535; {ENCODE_HINT}")
    if host_required and not parts.hostname:
        raise ValueError(
            f"the URL names no host; write it as {schemes[0]}://host:port/… (user:password@ before the host)"
        )


def _check_user_information(url: str, parts: SplitResult) -> None:
    authority = parts.netloc
    if authority.count("@") > 1:
        raise ValueError(f"the URL has more than one @ before its host; {ENCODE_HINT}")
    after_authority = url[len(parts.scheme) + 3 + len(authority) :]
    if "@" in after_authority.split("?", 1)[0] or ("@" not in authority and "@" in after_authority):
        raise ValueError(f"the URL has an @ after its host, as when a password holds a / ? or #; {ENCODE_HINT}")
