"""deploy/prometheus/alerts.yml: promtool checks and unit-tests the rules where it is available
(.ci/run fetches it); the rules are always parsed and held to the metrics the service exposes."""

from __future__ import annotations

import re
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from connector.config import Settings
from connector.run.metrics import ConnectorMetrics
from tests.deploy.helpers import PROMETHEUS, find_tool, k8s_one

# Gauges that issue 19's metrics part adds to connector/run/metrics.py; the rules on them are
# written ahead and stay silent until then.
COMING = {"connector_push_lag_seconds", "connector_quarantined_records"}
REQUIRED = {  # what each alert is for -> the metrics it must be built on
    "ConnectorRunFailed": {"connector_runs_total"},
    "ConnectorOverdue": {"connector_last_success_timestamp_seconds"},
    "ConnectorPushLag": {"connector_push_lag_seconds"},
    "ConnectorQuarantineRising": {"connector_quarantined_records"},
}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    assert set(doc) == {"groups"}
    out: list[dict[str, Any]] = []
    for group in doc["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        out += group["rules"]
    return out


def exposed_metric_names() -> set[str]:
    text = ConnectorMetrics().exposition().decode()
    return {line.split("{")[0].split()[0] for line in text.splitlines() if line and not line.startswith("#")}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bconnector_[a-z_]+\b", expr))


def test_rules_are_complete_alerts() -> None:
    names = []
    for rule in rules():
        names.append(rule["alert"])
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
    assert len(names) == len(set(names))
    assert set(REQUIRED) <= set(names)


def test_rules_use_only_metrics_the_service_exposes_or_the_announced_gauges() -> None:
    exposed = exposed_metric_names()
    assert {"connector_runs_total", "connector_last_success_timestamp_seconds"} <= exposed
    by_alert = {r["alert"]: metric_names(r["expr"]) for r in rules()}
    for alert, used in by_alert.items():
        assert used, alert
        assert used <= exposed | COMING, f"{alert} uses unknown metrics {used - exposed - COMING}"
        if used & COMING - exposed:
            assert alert in ("ConnectorPushLag", "ConnectorQuarantineRising"), alert
    for alert, needed in REQUIRED.items():
        assert needed <= by_alert[alert], alert
    text = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
    assert "issue 19" in text and all(name in text for name in COMING)


def test_overdue_threshold_is_the_one_healthz_uses() -> None:
    (overdue,) = [r for r in rules() if r["alert"] == "ConnectorOverdue"]
    (threshold,) = (int(n) for n in re.findall(r">\s*(\d{3,})", overdue["expr"]))
    schedule = tomllib.loads(k8s_one("ConfigMap")["data"]["connector.toml"])["schedule"]
    defaults = Settings().schedule
    assert threshold == schedule["interval_seconds"] * schedule["overdue_factor"]
    assert threshold == defaults.interval_seconds * defaults.overdue_factor
    (since_start,) = [r for r in rules() if r["alert"] == "ConnectorNoSuccessSinceStart"]
    assert since_start["for"] == "2h30m" and threshold == 2 * 3600 + 30 * 60


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = find_tool("promtool")
    if promtool is None:
        pytest.skip("promtool not found (.ci/run takes it from Debian's prometheus package); "
                    "the rules were only parsed")
    check = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=PROMETHEUS,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS,
                          capture_output=True, text=True, timeout=120)
    assert unit.returncode == 0, unit.stdout + unit.stderr
