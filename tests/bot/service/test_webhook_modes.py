"""`gtm serve` with GTM_TRANSPORT=webhook: safe by default, a loud warning in token-only mode."""
from __future__ import annotations

import threading

from gtm.bot.service.serve import run_serve


def _stopped() -> threading.Event:
    ev = threading.Event()
    ev.set()
    return ev


def test_webhook_without_encrypt_key_refuses_to_start(make_app, capsys):
    app = make_app(transport="webhook", feishu_verification_token="vt-x")
    assert run_serve(app, stop_event=_stopped()) == 2
    err = capsys.readouterr().err
    assert "GTM_FEISHU_ENCRYPT_KEY" in err and "GTM_WEBHOOK_INSECURE" in err
    assert "Traceback" not in err


def test_token_only_mode_needs_the_insecure_flag_and_warns_loudly(make_app, capsys):
    app = make_app(transport="webhook", feishu_verification_token="vt-x", webhook_insecure=True)
    assert run_serve(app, stop_event=_stopped()) == 0
    err = capsys.readouterr().err
    assert "GTM_WEBHOOK_INSECURE=1" in err and "!!!!" in err and "act as anybody" in err


def test_encrypted_webhook_starts_without_warning(make_app, capsys):
    app = make_app(transport="webhook", feishu_encrypt_key="k" * 16, feishu_verification_token="vt-x")
    assert run_serve(app, stop_event=_stopped()) == 0
    assert "INSECURE" not in capsys.readouterr().err
