"""Who a referred company is: billing id, e-mail domain, normalised company name.

Two submissions are the same company when any identifier matches, so each identifier
must be normalised the same way everywhere: domains lower-cased and never a free-mail
provider (thousands of unrelated people share gmail.com), names case-folded with
punctuation and legal suffixes removed ("ACME Robotics, Inc." == "Acme Robotics").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com",
        "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com", "aol.com",
        "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de",
        "gmx.net", "web.de", "mail.com", "zoho.com", "yandex.com", "yandex.ru", "mail.ru",
        "qq.com", "163.com", "126.com", "fastmail.com", "hey.com", "tutanota.com", "t-online.de",
        "orange.fr", "free.fr", "btinternet.com", "comcast.net", "verizon.net", "att.net",
    }
)  # fmt: skip

LEGAL_SUFFIXES = frozenset(
    {
        "ltd", "limited", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation", "co",
        "company", "gmbh", "ag", "kg", "ug", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "plc",
        "pty", "pte", "oy", "ab", "as", "aps", "kk", "sl", "pvt", "mbh",
    }
)  # fmt: skip


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of an address, or of a bare domain / URL."""
    if not email:
        return None
    text = email.strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


def company_domain(email: str | None, extra_free_mail: Iterable[str] = ()) -> str | None:
    """The domain that identifies a company: None for free-mail providers."""
    domain = email_domain(email)
    if domain is None or domain in FREE_MAIL_DOMAINS or domain in {d.lower() for d in extra_free_mail}:
        return None
    return domain


def normalise_company_name(name: str | None, extra_suffixes: Iterable[str] = ()) -> str | None:
    """Case-fold, drop accents and punctuation, then trailing legal suffixes."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    # "G.m.b.H." and "L.L.C." lose their dots before the suffix check
    words = re.sub(r"[^\w\s]", "", text.replace("_", " ")).split()
    suffixes = LEGAL_SUFFIXES | {s.casefold().replace(".", "") for s in extra_suffixes}
    while len(words) > 1 and words[-1] in suffixes:
        words.pop()
    return " ".join(words) or None
