"""deploy/ is what a platform team accepts: pinned images, a restricted security context with a
read-only root and writable /tmp + data volume, a PodDisruptionBudget, a database that a manifest
creates (or a documented external DSN), compose without defaults for secrets or public /metrics.
Where kubectl is installed and a cluster answers, the kustomize overlay passes a client dry run."""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAY = ROOT / "deploy" / "overlays" / "example"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _kustomize(folder: Path) -> list[dict]:
    """The documents a kustomization lists (resources recursively; no transformers)."""
    kz = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    out: list[dict] = []
    for res in kz.get("resources", []):
        target = (folder / res).resolve()
        assert target.exists(), f"{folder.name}/kustomization.yaml lists a missing {res}"
        out += _kustomize(target) if target.is_dir() else _docs(target)
    return out


def _workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def test_every_manifest_is_in_the_base_except_the_secret_template():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    present = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed + ["secret.yaml"]) == present


def test_workloads_run_restricted_non_root_read_only_with_tmp_and_data_volumes():
    workloads = _workloads(_kustomize(K8S))
    assert {w["metadata"]["name"] for w in workloads} == {"gtm", "gtm-postgres"}
    for w in workloads:
        pod = w["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, w["metadata"]["name"]
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in w["spec"].get("volumeClaimTemplates", [])}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]]
            for name in mounts.values():
                assert name in volumes or name in claims, f"{c['name']} mounts unknown volume {name}"
            assert c["imagePullPolicy"] != "Always"
            image = c["image"]
            assert re.fullmatch(r"[a-z0-9./_-]+:[0-9][\w.-]*", image), f"{image} is not pinned to a version"
            assert "resources" in c and "limits" in c["resources"]
    gtm = next(w for w in workloads if w["metadata"]["name"] == "gtm")
    c = gtm["spec"]["template"]["spec"]["containers"][0]
    assert c["workingDir"] == "/data" and {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp", "/data"}


def test_a_disruption_budget_keeps_one_replica():
    pdbs = [d for d in _kustomize(K8S) if d["kind"] == "PodDisruptionBudget"]
    assert len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == 1
    assert pdbs[0]["spec"]["selector"]["matchLabels"] == {"app": "gtm"}


def test_the_database_host_in_the_secret_is_a_service_a_manifest_creates():
    secret = _docs(K8S / "secret.yaml")[0]["stringData"]
    host = re.match(r"postgresql://[^@]+@([^:/]+)", secret["GTM_DATABASE_URL"]).group(1)
    services = {d["metadata"]["name"] for d in _kustomize(K8S) if d["kind"] == "Service"}
    assert host in services
    assert all(v in ("", "postgresql://gtm:PASSWORD@gtm-postgres:5432/gtm") for v in secret.values())
    pg = next(w for w in _workloads(_kustomize(K8S)) if w["metadata"]["name"] == "gtm-postgres")
    env = {e["name"]: e for e in pg["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "gtm-secrets", "key": "POSTGRES_PASSWORD"}
    assert "external" in (K8S / "postgres.yaml").read_text() and "GTM_DATABASE_URL" in (K8S / "postgres.yaml").read_text()


def test_the_overlay_sets_a_documented_registry_and_version_placeholder():
    kz = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    assert kz["resources"] == ["../../k8s"]
    (image,) = kz["images"]
    assert image["name"] == "gtm-plan-tracker" and image["newTag"] != "latest"
    assert re.fullmatch(r"\d+\.\d+\.\d+", image["newTag"])
    # the placeholders name the version this checkout builds
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert image["newTag"] == version
    dep = yaml.safe_load((K8S / "deployment.yaml").read_text())
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"gtm-plan-tracker:{version}"
    assert yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["gtm"]["image"] == \
        f"gtm-plan-tracker:{version}"
    assert "placeholder" in (OVERLAY / "kustomization.yaml").read_text()


def test_compose_publishes_metrics_on_loopback_only_and_has_no_default_password():
    text = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    gtm = compose["services"]["gtm"]
    assert all(str(p).startswith("127.0.0.1:") for p in gtm["ports"]), gtm["ports"]
    assert ":-" not in text, "no default values (passwords) in compose"
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"postgres:\d+\.\d+", compose["services"]["db"]["image"])
    assert not gtm["image"].endswith(":latest") and gtm["read_only"] is True and gtm["cap_drop"] == ["ALL"]
    # the env file the header tells you to write is the one compose reads (paths relative to deploy/)
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert any("deploy/.env" in ln and "cp deploy/.env.example" in ln for ln in header)
    assert gtm["env_file"] == [".env"] and "--env-file" not in text


def test_dockerfile_pins_the_base_image_by_version():
    docker = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM\s+(\S+)", docker, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


@pytest.mark.kubernetes
def test_kubectl_builds_the_overlay_and_a_client_dry_run_accepts_it():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (the static checks above still ran)")
    built = subprocess.run(["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    images = {c["image"] for w in _workloads(docs) for c in w["spec"]["template"]["spec"]["containers"]}
    assert images == {"registry.example.com/your-team/gtm-plan-tracker:0.1.0", "postgres:15.8"}
    assert {d["metadata"].get("namespace") for d in docs} == {"gtm"}
    reach = subprocess.run(["kubectl", "cluster-info", "--request-timeout=5s"], capture_output=True, text=True,
                           timeout=60)
    if reach.returncode != 0:
        pytest.skip("kubectl finds no reachable cluster: " + (reach.stderr.strip().splitlines() or ["?"])[-1])
    proc = subprocess.run(["kubectl", "apply", "--dry-run=client", "-k", str(OVERLAY)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
