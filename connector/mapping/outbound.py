"""The outbound reward body as data: the `[rewards]` table of a platform's mapping file.

Why a file: a seller whose PartnerStack account takes the body differently (another entry field as
the amount, another description, rewards on transactions) edits `mappings/partnerstack.toml`, not
code. What the file may name is checked when it is loaded, like every mapping path, so a typo stops
the run before any request. The entry's marker `[entry:<entry_key>]` is not the file's to choose:
it always ends the description, because finding a reward again after a lost answer depends on it.

    [rewards]
    amount = ["payout_amount_minor", "amount_minor"]   # entry fields, the first one set wins
    description = "{prefix}: {kind} {program} {customer_key}: {note}"
    description_max_chars = 1000  # longer: the text is cut (ending "…"), the marker is always whole
    [rewards.target]
    key = "customer_key"        # the entry field naming the target
    type = "customer"           # or "transaction"
    deals = "convert"           # an entry for a deal targets the customer the deal converted into
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.config import ConfigError, Settings
from connector.mapping.load import mapping_dir

# Each amount field an entry may feed `amount` from, with the field holding that amount's currency.
# `payout_amount_minor` exists once entries carry a payout in the reward currency (FX); until then
# an entry simply has no such attribute and the next field is read.
AMOUNT_FIELDS: dict[str, str] = {"payout_amount_minor": "payout_currency", "amount_minor": "currency"}
DESCRIPTION_FIELDS = frozenset({"prefix", "kind", "program", "customer_key", "partnership_key", "entry_key", "note"})
TARGET_FIELDS = frozenset({"customer_key", "partnership_key"})
TARGET_TYPES = ("customer", "transaction")
DEAL_POLICIES = ("convert", "hold")
_KEYS = frozenset({"amount", "description", "description_max_chars", "target"})
_TARGET_KEYS = frozenset({"key", "type", "deals"})

DEFAULT_AMOUNT = ["payout_amount_minor", "amount_minor"]
DEFAULT_DESCRIPTION = "{prefix}: {kind} {program} {customer_key}: {note}"
# PartnerStack documents no length for a reward's description (shared/spec/partnerstack.md): a chosen
# bound, so a long correction note never makes a body the platform might refuse for its size alone.
DEFAULT_DESCRIPTION_MAX_CHARS = 1000
ELLIPSIS = "…"
DEFAULT_TARGET = {"key": "customer_key", "type": "customer", "deals": "convert"}


@dataclass(frozen=True)
class RewardBody:
    """Which entry field feeds which part of the documented create-reward body."""

    amount: tuple[str, ...]
    description: str
    target_key: str
    target_type: str
    deals: str
    max_chars: int = DEFAULT_DESCRIPTION_MAX_CHARS

    def marker(self, entry_key: str) -> str:
        return f"[entry:{entry_key}]"

    def describe(self, values: dict[str, Any]) -> str:
        """The description: the file's template filled in (the entry's note is its arithmetic), then the
        entry's marker; cut to `max_chars`, the text losing its end (marked "…"), never the marker."""
        text = " ".join(self.description.format_map({name: values.get(name) or "" for name in DESCRIPTION_FIELDS})
                        .split()).rstrip(" :;,")
        marker = self.marker(str(values["entry_key"]))
        room = self.max_chars - len(marker) - 1
        if len(text) > room:
            text = text[: max(room - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS
        return f"{text} {marker}"


def _refuse_unknown(raw: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")


def _amount(value: Any, where: str) -> tuple[str, ...]:
    fields = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
    if not fields or any(f not in AMOUNT_FIELDS for f in fields):
        raise ConfigError(f"{where}.amount: a list of entry fields among {', '.join(AMOUNT_FIELDS)}")
    return fields


def _description(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}.description: a text template")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}.description: {exc}") from None
    unknown = sorted(names - DESCRIPTION_FIELDS)
    if unknown:
        raise ConfigError(f"{where}.description: unknown field(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(DESCRIPTION_FIELDS))})")
    return value


def parse_reward_body(raw: Any, where: str) -> RewardBody:
    """Validate a `[rewards]` table (`ConfigError` naming the key on any fault)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a table")
    _refuse_unknown(raw, _KEYS, where)
    target_raw = raw.get("target", {})
    if not isinstance(target_raw, dict):
        raise ConfigError(f"{where}.target: a table")
    _refuse_unknown(target_raw, _TARGET_KEYS, f"{where}.target")
    target = {**DEFAULT_TARGET, **target_raw}
    for key, allowed in (("key", TARGET_FIELDS), ("type", TARGET_TYPES), ("deals", DEAL_POLICIES)):
        if target[key] not in allowed:
            raise ConfigError(f"{where}.target.{key}: one of {', '.join(sorted(allowed))}")
    amount = _amount(raw.get("amount", DEFAULT_AMOUNT), where)
    description = _description(raw.get("description", DEFAULT_DESCRIPTION), where)
    max_chars = raw.get("description_max_chars", DEFAULT_DESCRIPTION_MAX_CHARS)
    if not isinstance(max_chars, int) or isinstance(max_chars, bool) or not 200 <= max_chars <= 100_000:
        raise ConfigError(f"{where}.description_max_chars: a whole number of characters, 200 to 100000")
    return RewardBody(amount, description, target["key"], target["type"], target["deals"], max_chars)


def load_reward_body(settings: Settings, source: str = "partnerstack") -> RewardBody:
    """The `[rewards]` table of `<mappings dir>/<source>.toml`; the documented default without one."""
    path = Path(mapping_dir(settings)) / f"{source}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"mapping file {path}: {exc}") from None
    return parse_reward_body(data.get("rewards", {}), f"{path}: rewards")
