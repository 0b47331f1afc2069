"""The outbound reward body as data: `[rewards]` in the PartnerStack mapping, validated at load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from connector.config import ConfigError
from connector.mapping import PACKAGE_DIR
from connector.mapping.outbound import load_reward_body, parse_reward_body
from connector.run.runner import run_once

from .conftest import AS_OF, make_settings


def test_the_shipped_mapping_is_the_documented_body() -> None:
    spec = parse_reward_body({}, "default")
    shipped = load_reward_body(make_settings("sqlite://", None))
    assert shipped == spec
    assert (spec.amount, spec.target_key, spec.target_type, spec.deals) == (
        ("payout_amount_minor", "amount_minor"), "customer_key", "customer", "convert")
    text = spec.describe({"prefix": "rc", "kind": "commission", "program": "consio", "customer_key": "cust_1",
                          "entry_key": "consio|p|c|commission|in_1#0"})
    assert text == "rc: commission consio cust_1 [entry:consio|p|c|commission|in_1#0]"


@pytest.mark.parametrize(
    ("raw", "names"),
    [({"amount": "amount"}, "rewards.amount"), ({"amount": []}, "rewards.amount"),
     ({"description": "{prefix} {secret}"}, "unknown field(s) secret"), ({"description": "{"}, "rewards.description"),
     ({"target": {"type": "partner"}}, "rewards.target.type"), ({"target": {"key": "external_key"}}, "target.key"),
     ({"target": {"deals": "skip"}}, "target.deals"), ({"target": {"typ": "customer"}}, "unknown key(s) typ"),
     ({"currency": "usd"}, "unknown key(s) currency"), ({"target": "cust"}, "rewards.target: a table")],
)
def test_a_bad_rewards_table_names_its_key(raw: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("(", r"\(").replace(")", r"\)")):
        parse_reward_body(raw, "mappings/partnerstack.toml: rewards")


def test_a_bad_rewards_table_stops_the_run_before_any_request(tmp_path: Path, database_url: str) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(PACKAGE_DIR, mappings)
    toml = mappings / "partnerstack.toml"
    toml.write_text(toml.read_text().replace('type = "customer"      # or', 'type = "partner"      # or'))
    settings = make_settings(database_url, None, mappings={"dir": str(mappings)})
    with pytest.raises(ConfigError, match="rewards.target.type"):
        run_once(settings, as_of=AS_OF)
