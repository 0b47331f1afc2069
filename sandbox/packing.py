"""Stored records as compressed JSON text: what is served, and the sparse record it came from.

Why: a large world (1.2 million invoices) kept as Python dicts costs ~3 KB per invoice, and
rendering each invoice into Stripe's full shape on every request costs more CPU than sending it.
So each record is rendered once when stored, and the served JSON text together with the sparse
record's own JSON text is deflated with a preset dictionary: records of one list share almost all
their keys and boilerplate, so an invoice's ~4 KB of text packs into a few hundred bytes. Serving a
page is then inflating and joining; the record itself is parsed back only when a filter, a merge or
a lookup needs it (a fresh copy each time, so nothing can mutate what is stored).

Only records that survive a JSON round trip exactly are packed (see ``json_exact``); anything else
(floats, tuples, non-string keys, unserializable values given by Python callers) is kept as given.
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from .jsonutil import loads

# Measured on generated invoices (~4.3 KB of text each): level 3 packs to ~360 bytes in ~26 us, level 1
# leaves ~520 bytes for the same time, level 6 saves another ~50 bytes for ~45 us. An 8 KB window with
# memory level 6 keeps the state copied for every record small (~50 KB) yet reaches into the dictionary.
_LEVEL = 3
_WBITS = -13  # raw deflate (no header or checksum stored per record), 8 KB window
_MEM_LEVEL = 6
# The compact encoder never writes a raw newline (control characters are escaped), so it can
# separate the served text from the sparse record's text inside one packed blob.
_SEP = "\n"


class Packer:
    """Deflates and inflates the records of one list with a shared preset dictionary.

    The dictionary is the first packed record's text: later records of the same list repeat most of
    it. It never changes afterwards, since every stored blob depends on it.
    """

    __slots__ = ("_compress", "_decompress")

    def __init__(self) -> None:
        self._compress: Any = None
        self._decompress: Any = None

    def pack(self, served: str, sparse: str) -> bytes:
        """One blob holding both texts (the sparse one only when it differs from the served one)."""
        text = (sparse if served == sparse else served + _SEP + sparse).encode("ascii")
        if self._compress is None:
            self._compress = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEM_LEVEL,
                                              zlib.Z_DEFAULT_STRATEGY, text)
            self._decompress = zlib.decompressobj(_WBITS, text)
        compressor = self._compress.copy()  # cheaper than a new stream that re-reads the dictionary
        return bytes(compressor.compress(text) + compressor.flush())

    def _text(self, blob: bytes) -> str:
        return str(self._decompress.copy().decompress(blob).decode("ascii"))

    def served(self, blob: bytes) -> str:
        """The JSON text a list page or a retrieve sends."""
        text = self._text(blob)
        cut = text.find(_SEP)
        return text if cut < 0 else text[:cut]

    def texts(self, blob: bytes) -> tuple[str, str]:
        """(served text, sparse record's text) of a blob."""
        text = self._text(blob)
        cut = text.find(_SEP)
        return (text, text) if cut < 0 else (text[:cut], text[cut + 1:])

    def record(self, blob: bytes) -> Any:
        """A fresh copy of the stored (sparse) record."""
        text = self._text(blob)
        return loads(text[text.find(_SEP) + 1:])


def json_exact(value: Any) -> bool:
    """Whether ``loads(dumps(value)) == value`` with the same types all the way down.

    Why: a packed record is parsed back for filters and merges, so it must come back as it went in.
    Scenarios read from JSON text always do; Python callers may hand floats (which would come back as
    ``Decimal``), tuples, sets, bytes, non-string keys or NaN, and those records are kept unpacked.
    """
    kind = type(value)
    if kind is str:
        return "\x00" not in value  # the Decimal marker of ``jsonutil`` starts with NUL
    if kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not json_exact(key) or not json_exact(item):
                return False
        return True
    if kind is list:
        return all(json_exact(item) for item in value)
    if kind is Decimal:
        # Parsed back only through ``parse_float``: it must be finite and look like a float.
        text = str(value)
        return value.is_finite() and any(c in text for c in ".eE")
    return False
