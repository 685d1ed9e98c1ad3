"""`gtm serve` must not run on the embedded sandbox by accident: the check made before anything
heavy is imported, so a misconfigured start fails at once with a message naming what to set."""
from __future__ import annotations

from gtm.schemas.settings import SETUP_GUIDE, Settings


def credentials_problem(settings: Settings) -> str:
    """Why `gtm serve` must not start with these settings (two lines, zh then en), or ''."""
    if settings.has_credentials or settings.sandbox:
        return ""
    return (f"gtm serve: 未配置飞书凭证，拒绝启动：请设置 GTM_FEISHU_APP_ID 和 GTM_FEISHU_APP_SECRET"
            f"（见 {SETUP_GUIDE}），或用 --sandbox / GTM_SANDBOX=1 明确在内置沙箱上运行。\n"
            f"gtm serve: no Feishu credentials, not starting: set GTM_FEISHU_APP_ID and "
            f"GTM_FEISHU_APP_SECRET (see {SETUP_GUIDE}), or pass --sandbox / "
            f"GTM_SANDBOX=1 to run on the embedded sandbox on purpose.")
