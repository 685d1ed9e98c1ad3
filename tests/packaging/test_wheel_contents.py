"""The wheel carries every file of the package folders: card templates, console files, migrations.

Fails on a data file (a new template, a console asset) that no package-data rule reaches, and on
a folder the Dockerfile forgets to copy.
"""
from __future__ import annotations

import pytest
from tests.support.wheel_build import (
    ROOT,
    build_wheel,
    docker_steps,
    missing_from_wheel,
    stage,
    tree_files,
    wheel_files,
)

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1500)]


def test_the_installed_wheel_holds_every_file_of_the_checkout(installed):
    assert missing_from_wheel(ROOT, installed.wheel) == []
    held = wheel_files(installed.wheel)
    assert "gtm/bot/cards/templates/escalation.json.j2" in held
    assert "gtm/sandbox/console_static/index.html" in held
    assert "gtm/sync/store/migrations/script.py.mako" in held
    assert any(n.startswith("gtm/sync/store/migrations/versions/0001_") for n in held)
    # one top-level import name: nothing generic such as `bot` or `sync` lands in site-packages
    assert {n.split("/")[0] for n in held} == {"gtm"}


def test_a_data_file_that_no_package_data_rule_reaches_fails_the_check(tmp_path):
    root = tmp_path / "image"
    steps = docker_steps()
    stage(steps, root)
    source = next(root / a.lstrip("/") for a in steps.install[2:] if a.startswith("/"))
    (source / "bot" / "cards" / "templates" / "extra_fields.json").write_text("{}", encoding="utf-8")
    (source / "sandbox" / "console_static" / "logo.svg").write_text("<svg/>", encoding="utf-8")
    wheel = build_wheel(source, tmp_path / "dist")
    missing = missing_from_wheel(source, wheel)
    assert missing == ["gtm/bot/cards/templates/extra_fields.json", "gtm/sandbox/console_static/logo.svg"]
    assert "gtm/bot/cards/templates/escalation.json.j2" in tree_files(source)
