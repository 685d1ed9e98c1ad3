"""deploy/ stays true to the settings model: every variable exists, every setting is listed."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from gtm.schemas.settings import Policy, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def setting_names() -> set[str]:
    names = {f"GTM_{n.upper()}" for n in Settings.model_fields if n != "policy"}
    names |= {f"GTM_POLICY__{n.upper()}" for n in Policy.model_fields}
    return names


def env_example() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_env_example_lists_every_setting_and_nothing_else():
    listed = set(env_example())
    assert listed == setting_names(), (f"missing: {sorted(setting_names() - listed)}; "
                                       f"unknown: {sorted(listed - setting_names())}")


def test_env_example_defaults_are_valid_settings(monkeypatch, tmp_path):
    from gtm.schemas.settings import load_settings

    for key, value in env_example().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    s = load_settings(None)
    assert s.policy.escalation_days == [3, 7] and s.timezone == "Asia/Shanghai"


def _env_vars_in(doc) -> set[str]:
    found: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(k, str) and k.startswith("GTM_"):
                found.add(k)
            if k in ("name",) and isinstance(v, str) and v.startswith("GTM_"):
                found.add(v)
            found |= _env_vars_in(v)
    elif isinstance(doc, list):
        for item in doc:
            found |= _env_vars_in(item)
    return found


def test_compose_and_k8s_parse_and_use_only_known_settings():
    files = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]
    assert len(files) >= 4
    used: set[str] = set()
    kinds = set()
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc, f"{path.name} has an empty document"
            kinds.add(doc.get("kind", "compose"))
            used |= _env_vars_in(doc)
    assert {"Deployment", "ConfigMap", "Secret", "compose"} <= kinds
    assert used, "no GTM_ variables found"
    assert used <= setting_names(), f"unknown settings used: {sorted(used - setting_names())}"


def test_images_run_gtm_serve_with_probes():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    svc = compose["services"]["gtm"]
    assert svc["entrypoint"] == ["gtm"] and svc["command"] == ["serve"]
    assert "db" in compose["services"] and "volumes" in compose
    dep = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    assert dep["spec"]["replicas"] == 2
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["gtm"] and c["args"] == ["serve"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    docker = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["gtm"\]$', docker, re.M) and re.search(r'^CMD \["serve"\]$', docker, re.M)
    assert re.search(r"^USER 10001:10001$", docker, re.M) and "HEALTHCHECK" in docker


def test_setup_guide_names_the_scopes_and_events_in_both_languages():
    guide = (DEPLOY / "feishu-app-setup.md").read_text(encoding="utf-8")
    for needle in ("bitable:app", "drive:drive", "im:message", "contact:user.base:readonly",
                   "im.message.receive_v1", "card.action.trigger", "drive.file.bitable_record_changed_v1",
                   "## 中文", "## English", "gtm doctor", "gtm init", "gtm serve"):
        assert needle in guide, needle
