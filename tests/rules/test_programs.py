"""The program file schema: the four bundled programs load; bad files fail naming the key."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from connector.config import ConfigError
from connector.rules.program import bundled_program_path, load_program
from tests.rules.builders import REPO

NAMES = ["consio", "netsource", "connectus", "tech-consultant"]


@pytest.mark.parametrize("name", NAMES)
def test_bundled_programs_load(name: str) -> None:
    program = load_program(bundled_program_path(name))
    assert program.name == name
    assert program.currency_default in ("usd", "gbp")


def test_rates_are_exact_decimals() -> None:
    consio = load_program(bundled_program_path("consio"))
    assert consio.rates.by_group["master"] == Decimal("0.20")
    assert consio.commission.period_months == {"master": 36, "elite": 24, "sales": 24}
    tech = load_program(bundled_program_path("tech-consultant"))
    assert [b.rate for b in tech.rates.bands] == [Decimal("0.03"), Decimal("0.05"), Decimal("0.08")]
    assert tech.to_minor(tech.bonuses[0].amount) == 100000  # $1,000 in cents
    assert tech.to_minor(Decimal(1000), "jpy") == 1000  # JPY has no minor digits


def test_relative_path_resolves_from_anywhere(tmp_path: Path) -> None:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert load_program("programs/consio.toml").name == "consio"
    finally:
        os.chdir(old)


def _broken(tmp_path: Path, old: str, new: str, name: str = "netsource") -> Path:
    text = (REPO / "programs" / f"{name}.toml").read_text()
    assert old in text
    path = tmp_path / "x.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("default = 0.10", "default = 1.5", "rates.default: must be between 0 and 1"),
        ("paid_in_full = true", "paid_in_full = true\nsurprise = 1", "commission.surprise: unknown key"),
        ('rules = ["customer_past_due"]', 'rules = ["no_such_gate"]', "gates.rules.0:"),
        ('basis = "net_revenue"', 'basis = "vibes"', "commission.basis:"),
        ("default_term_months = 12", "default_term_months = 0", "contract_change.default_term_months:"),
        ('currency_default = "usd"', 'currency_default = "xyz"', "program.currency_default: unknown currency"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_program(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_group_rate_error_names_the_group(tmp_path: Path) -> None:
    path = _broken(tmp_path, "master = 0.20", "master = 2", "consio")
    with pytest.raises(ConfigError, match=r"x\.toml: rates\.by_group\.master: must be between 0 and 1"):
        load_program(path)


def test_bands_must_ascend(tmp_path: Path) -> None:
    path = _broken(tmp_path, "{ from = 50000, rate = 0.05 }", "{ from = 500000, rate = 0.05 }", "tech-consultant")
    with pytest.raises(ConfigError, match="rates.bands: .*ascending"):
        load_program(path)


def test_basis_and_recurrence_must_agree(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'recurrence = "one_off"', 'recurrence = "recurring"', "connectus")
    with pytest.raises(ConfigError, match="commission: .*contract_value_12m is one_off"):
        load_program(path)


def test_unparseable_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[program\nname=")
    with pytest.raises(ConfigError, match="cannot parse TOML"):
        load_program(path)
    with pytest.raises(ConfigError, match="not found"):
        load_program(tmp_path / "nope.toml")
