"""Response bodies as text: strict UTF-8, with undecodable bytes marked rather than hidden.

httpx's `response.text` turns bytes that are not UTF-8 into U+FFFD, so a garbled name or
description used to be stored as if the upstream had sent it. Here each undecodable byte becomes
`INVALID_UTF8` (U+FDD0, a Unicode noncharacter: never meant to travel between systems, so a
real payload does not carry it); the page is marked unclean and the writer quarantines each
record that holds one, with the reason (see `connector.pull.jsonsafe.stored_raw`).
"""

from __future__ import annotations

import codecs

INVALID_UTF8 = "\ufdd0"
_HANDLER = "connector-invalid-utf8"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return INVALID_UTF8 * (exc.end - exc.start), exc.end


codecs.register_error(_HANDLER, _mark)


def decode_body(content: bytes) -> str:
    """`content` as UTF-8 text (what JSON is, RFC 8259); each undecodable byte as `INVALID_UTF8`."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("utf-8", errors=_HANDLER)
