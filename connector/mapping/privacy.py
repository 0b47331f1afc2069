"""Keeping sensitive numbers out of the store: presence, last four, keyed fingerprint.

A full tax id, bank account/routing number or IBAN never reaches the database, a log
or a report. Two layers: every path a mapping names as sensitive is removed (a list selector
such as `fields[api_name=tax_id].value` removes the whole field object, whose other attributes
may echo the answer), and then every value equal to a sensitive value found is removed wherever
else it sits in the payload (`meta`, `field_data`, a field renamed by the seller, ...).

The HMAC fingerprint (keyed by `security.fingerprint_key`) still lets a later run see that a
partner's bank account changed, without being reversible by anyone who reads the database but
not the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any

from connector.mapping.paths import Selector, split_path

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
# every byte `normalize_secret` would drop (UTF-8 bytes of non-ASCII characters included)
_NON_ALNUM_BYTES = bytes(b for b in range(256) if not (chr(b).isascii() and chr(b).isalnum()))
_JSON_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|.)")  # what json.dumps escapes is never alphanumeric


def normalize_secret(value: str) -> str:
    """Spacing, dashes and case do not make a different number."""
    return _NON_ALNUM.sub("", value).upper()


def fingerprint(value: str, key: str) -> str:
    """HMAC-SHA256 (hex) of the normalised value."""
    return hmac.new(key.encode("utf-8"), normalize_secret(value).encode("utf-8"), hashlib.sha256).hexdigest()


def last4(value: Any) -> str:
    """The last four significant characters (dashes and spaces ignored)."""
    return normalize_secret(str(value))[-4:]


def present(value: Any) -> bool:
    return value is not None and normalize_secret(str(value)) != ""


_Parts = tuple[str | Selector, ...]
_MIN_SWEPT = 4  # shorter "secrets" (a stray "1") would remove ordinary values


def _without_selected(node: Any, sel: Selector) -> Any:
    """`node` without the elements `sel` selects from its list (all of them, not just the first)."""
    items = node.get(sel.name) if isinstance(node, dict) else None
    if not isinstance(items, list):
        return node
    kept = [item for item in items if not (isinstance(item, dict) and item.get(sel.attr) == sel.value)]
    return node if len(kept) == len(items) else {**node, sel.name: kept}


def _without_path(node: Any, parts: _Parts) -> Any:
    """`node` with the dotted path removed; only the containers along the path are copied."""
    if not parts:
        return node
    head, rest = parts[0], parts[1:]
    if isinstance(head, Selector):
        return _without_selected(node, head)
    if head.endswith("[]"):
        name = head[:-2]
        items = node.get(name) if isinstance(node, dict) else None
        if not isinstance(items, list):
            return node
        return {**node, name: [_without_path(item, rest) for item in items]}
    if not isinstance(node, dict) or head not in node:
        return node
    if not rest:
        return {k: v for k, v in node.items() if k != head}
    return {**node, head: _without_path(node[head], rest)}


def redact_payload(payload: dict[str, Any], sensitive_paths: Iterable[str]) -> dict[str, Any]:
    """`payload` without the dotted `sensitive_paths`; the original is untouched.

    Copy-on-write along each path instead of a deep copy: most payloads have nothing to
    redact, and deep-copying every invoice was a fifth of the pull's time.
    """
    return compile_redaction(sensitive_paths)(payload)


def compile_redaction(sensitive_paths: Iterable[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`redact_payload` for fixed paths, split once; with nothing to redact, the payload itself."""
    split = tuple(split_path(path) for path in sensitive_paths)
    if not split:
        return lambda payload: payload

    def redact(payload: dict[str, Any]) -> dict[str, Any]:
        out = payload
        for parts in split:
            out = _without_path(out, parts)
        return out

    return redact


def secret_forms(values: Iterable[Any]) -> frozenset[str]:
    """The normalised forms of the sensitive values found, for `without_values`."""
    forms = (normalize_secret(str(v)) for v in values if v is not None)
    return frozenset(f for f in forms if len(f) >= _MIN_SWEPT)


_GONE: Any = object()


def without_values(node: Any, secrets: Collection[str]) -> Any:
    """`node` without any string or number equal (normalised) to one of `secrets`, wherever it sits.

    Copy-on-write like `redact_payload`: containers holding nothing to remove are returned as
    they are. A removed dict value drops its key; a removed list element drops the element.
    """
    if not secrets:
        return node
    text = json.dumps(node, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if b"\\" in text:  # `\n`, `\u001f`: the escape's letters are not in the value
        text = _JSON_ESCAPE.sub(b"", text)
    text = text.translate(None, _NON_ALNUM_BYTES).upper()  # normalize_secret of the whole text, at C speed
    if not any(secret.encode("ascii") in text for secret in secrets):
        return node  # the usual case once the paths are removed: one pass over the text, no walk
    out = _swept(node, secrets)
    return None if out is _GONE else out


def _swept(node: Any, secrets: Collection[str]) -> Any:
    if isinstance(node, dict):
        swept = {k: _swept(v, secrets) for k, v in node.items()}
        if all(swept[k] is node[k] for k in node):
            return node
        return {k: v for k, v in swept.items() if v is not _GONE}
    if isinstance(node, list):
        items = [_swept(v, secrets) for v in node]
        if all(a is b for a, b in zip(items, node, strict=True)):
            return node
        return [v for v in items if v is not _GONE]
    if isinstance(node, str | int) and not isinstance(node, bool) and normalize_secret(str(node)) in secrets:
        return _GONE
    return node


def tax_id_columns(tax_id: Any, key: str) -> dict[str, Any]:
    if not present(tax_id):
        return {"tax_id_present": False, "tax_id_last4": None, "tax_id_fingerprint": None}
    return {"tax_id_present": True, "tax_id_last4": last4(tax_id), "tax_id_fingerprint": fingerprint(str(tax_id), key)}


def bank_columns(account: Any, routing: Any, iban: Any, key: str) -> dict[str, Any]:
    """IBAN wins when present; otherwise an account number (with its routing number, if any)."""
    if present(iban):
        return {"bank_kind": "iban", "bank_last4": last4(iban), "bank_fingerprint": fingerprint(str(iban), key)}
    if present(account):
        routing_part = normalize_secret(str(routing)) if present(routing) else ""
        material = f"{normalize_secret(str(account))}:{routing_part}"
        digest = hmac.new(key.encode("utf-8"), material.encode("utf-8"), hashlib.sha256).hexdigest()
        # programs.md: bank details are an account number *with* its routing number, or an IBAN
        kind = "account" if routing_part else "account_only"
        return {"bank_kind": kind, "bank_last4": last4(account), "bank_fingerprint": digest}
    return {"bank_kind": None, "bank_last4": None, "bank_fingerprint": None}
