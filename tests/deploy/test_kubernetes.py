"""deploy/kubernetes (issue 19, part 7): validated offline against the Kubernetes schemas that
kubernetes-validate bundles, then checked against the connector's own settings and the image."""

from __future__ import annotations

import copy
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest

from connector.config import Settings, load_settings
from tests.deploy.helpers import KUBE, k8s_documents, k8s_one, parse_dockerfile, pyproject, stage

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate (dev extra) is not installed"
)
# the oldest release these manifests target (podFailurePolicy is GA from 1.31) and the newest bundled
VERSIONS = ("1.31", kubernetes_validate.latest_version())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the validator tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_manifest_validates_offline_and_strictly(no_network: None) -> None:
    docs = k8s_documents()
    assert set(docs) == {"configmap.yaml", "secret.example.yaml", "deployment.yaml", "service.yaml",
                         "cronjob.yaml"}
    for name, resources in docs.items():
        assert resources, name
        for resource in resources:
            for version in VERSIONS:
                kubernetes_validate.validate(resource, version, strict=True)


def test_the_validator_rejects_a_misspelt_field(no_network: None) -> None:
    bad = copy.deepcopy(k8s_one("Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/healthz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def config_file_settings(tmp_path: Path) -> tuple[dict[str, Any], Settings]:
    text = k8s_one("ConfigMap")["data"]["connector.toml"]
    path = tmp_path / "connector.toml"
    path.write_text(text, encoding="utf-8")
    return tomllib.loads(text), load_settings(path)


def test_configmap_and_secret_are_valid_connector_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, settings = config_file_settings(tmp_path)
    assert "database" not in raw and "partnerstack" not in raw  # these come from the Secret
    secret = k8s_one("Secret")["stringData"]
    for key in secret:
        match = re.fullmatch(r"CONNECTOR_([A-Z]+)__([A-Z_]+)", key)
        assert match, key
        section, name = match.group(1).lower(), match.group(2).lower()
        assert name in getattr(Settings(), section).__class__.model_fields, key
        monkeypatch.setenv(key, secret[key])
    assert set(secret) >= {"CONNECTOR_DATABASE__URL", "CONNECTOR_PARTNERSTACK__PUBLIC_KEY",
                           "CONNECTOR_PARTNERSTACK__SECRET_KEY", "CONNECTOR_STRIPE__API_KEY",
                           "CONNECTOR_SECURITY__FINGERPRINT_KEY"}
    _, combined = config_file_settings(tmp_path)
    assert combined.database.url.startswith("postgresql+psycopg://")  # PostgreSQL is the store
    assert combined.log.format == "json" and settings.serve.host == "0.0.0.0"


def pod_specs() -> dict[str, dict[str, Any]]:
    return {
        "Deployment": k8s_one("Deployment")["spec"]["template"]["spec"],
        "CronJob": k8s_one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    }


def test_pods_run_the_image_non_root_read_only_with_limits() -> None:
    user = stage(parse_dockerfile(), "runtime").last("USER").args
    uid, gid = (int(x) for x in user.split(":"))
    version = pyproject()["project"]["version"]
    for kind, spec in pod_specs().items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid and pod["runAsGroup"] == gid, kind
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["initContainers"] + spec["containers"]:
            where = f"{kind}/{container['name']}"
            assert container["image"] == f"referral-connector:{version}", where
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
            assert container["envFrom"] == [{"secretRef": {"name": k8s_one("Secret")["metadata"]["name"]}}]
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            # the read-only root leaves /tmp and the ConfigMap; CONNECTOR_CONFIG names the file in it
            assert "emptyDir" in volumes[mounts["/tmp"]["name"]], where
            env = {e["name"]: e["value"] for e in container["env"]}
            config = Path(env["CONNECTOR_CONFIG"])
            config_volume = volumes[mounts[str(config.parent)]["name"]]
            assert config_volume["configMap"]["name"] == k8s_one("ConfigMap")["metadata"]["name"], where
            assert config.name in k8s_one("ConfigMap")["data"], where
        (main,) = spec["containers"]
        assert main["name"] == "connector" and main["workingDir"] == "/data"
        assert "emptyDir" in volumes[{m["mountPath"]: m for m in main["volumeMounts"]}["/data"]["name"]]
        assert main["resources"]["requests"]["cpu"]
        assert spec["initContainers"][0]["command"] == ["connector", "db", "upgrade"]


def test_deployment_serves_with_probes_on_healthz_and_the_full_grace(tmp_path: Path) -> None:
    _, settings = config_file_settings(tmp_path)
    deployment = k8s_one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    (main,) = pod["containers"]
    assert main["command"] == ["connector", "serve"]
    (port,) = main["ports"]
    assert port["containerPort"] == settings.serve.port == Settings().serve.port
    for probe in ("readinessProbe", "livenessProbe"):
        http = main[probe]["httpGet"]
        assert http["path"] == "/healthz" and http["port"] in (port["name"], port["containerPort"]), probe
    # the run in flight gets the whole grace; the HTTP server then gets up to 10 s to stop
    grace = settings.serve.shutdown_grace_seconds
    assert grace == Settings().serve.shutdown_grace_seconds
    assert grace + 10 < pod["terminationGracePeriodSeconds"] <= grace + 60
    assert report_dir_is_writable(settings.report.output_dir, main)
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.serve.port)
    assert annotations["prometheus.io/path"] == "/metrics"
    service = k8s_one("Service")["spec"]
    assert service["selector"] == spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert service["ports"][0]["targetPort"] == port["name"]


def report_dir_is_writable(output_dir: str, container: dict[str, Any]) -> bool:
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    return any(Path(output_dir).is_relative_to(w) for w in writable)


def test_cronjob_alternative_never_overlaps(tmp_path: Path) -> None:
    _, settings = config_file_settings(tmp_path)
    cron = k8s_one("CronJob")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] == settings.schedule.misfire_grace_seconds
    job = cron["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (main,) = pod["containers"]
    assert main["command"] == ["connector", "sync"] and "ports" not in main
    assert report_dir_is_writable(settings.report.output_dir, main)
    # exit 2 (bad config) and 3 (lock held) end the Job; exit 1 (run failed) is retried
    rules = job["podFailurePolicy"]["rules"]
    fail_codes = {c for r in rules if r["action"] == "FailJob" for c in r["onExitCodes"]["values"]}
    assert fail_codes == {2, 3}
    assert all(r["onExitCodes"]["containerName"] == "connector" for r in rules if "onExitCodes" in r)


def test_manifest_files_say_what_they_are() -> None:
    for path in sorted(KUBE.glob("*.yaml")):
        assert path.read_text(encoding="utf-8").startswith("#"), f"{path.name}: start with a comment"
