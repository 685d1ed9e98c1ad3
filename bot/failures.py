"""One map from an exception to what people are told, what the operator is told, and a log id.

Every entry kind has one error boundary that uses it — chat events (`Dispatcher`), card actions
(`Dispatcher._handle_card_action`), CLI commands (`gtm.bot.cli.boundary.report_failure`, called by
`gtm.bot.cli.main.GtmGroup`), scheduled jobs (`gtm.bot.service.scheduler.run_job`; the PM's
系统问题 card is `gtm.bot.checks.check.notify_failure`):
- people see `Failure.user` (short, Chinese first, English available) and the log id;
- the PM gets the 系统问题 card with `Failure.operator`;
- the log gets the operator message, the log id and the traceback (`log_failure`).
No raw exception text reaches a chat: Feishu error bodies, SQL and paths stay in the log.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from gtm.bot.logs import EXPLAINED
from gtm.schemas.settings import SettingsError
from gtm.sync.feishu.errors import (
    AuthError,
    FeishuError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ScopeError,
    TransientError,
)
from gtm.sync.provision_plan import BaseMissing
from gtm.sync.store.open import StoreOpenError, describe_store_error


class ProjectNotFound(LookupError):
    """No project by that slug (or several and none chosen); the message names the slugs that exist."""


log = logging.getLogger("gtm.failures")

CLIP = 300  # longest exception text quoted in an operator message


def clip(text: object, limit: int = CLIP) -> str:
    """`text` on one line, at most `limit` characters (…and how many more)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else f"{s[:limit]}…(+{len(s) - limit})"


def new_log_id() -> str:
    return "E" + secrets.token_hex(4).upper()


@dataclass(frozen=True)
class Failure:
    user: str  # what people see (zh)
    user_en: str
    operator: str  # what the operator should know / do (one or two lines)
    log_id: str
    exit_code: int = 1
    expected: bool = False  # bad input or setup the message fully explains: no log id, no traceback

    def for_people(self, lang: str = "zh") -> str:
        text = self.user_en if lang == "en" else self.user
        return f"{text}（日志编号 {self.log_id}）" if lang != "en" else f"{text} (log id {self.log_id})"


def _feishu(exc: FeishuError, slug: str) -> tuple[str, str, str]:
    where = f" ({exc.api})" if exc.api else ""
    if isinstance(exc, NotFound):
        return ("项目的多维表格或记录已不存在（可能被删除），请联系项目经理",
                "The project's Base or record no longer exists (deleted?); please tell the project manager",
                f"Feishu says not found{where}, code {exc.code}: the Base or record was deleted or moved. "
                f"Restore it from the Feishu trash, or re-provision with `gtm init --project {slug}`, or "
                f"archive the project with `gtm projects archive {slug}`.")
    if isinstance(exc, ScopeError):
        return ("机器人缺少飞书权限，已通知管理员", "The bot lacks a Feishu permission; the admin was told",
                f"Feishu refused a scope{where}, code {exc.code}: {clip(exc.msg, 160)}. Add the scope on "
                f"the app's 权限管理 page (deploy/feishu-app-setup.md), publish a version, run `gtm doctor`.")
    if isinstance(exc, PermissionDenied):
        return ("机器人没有这份多维表格或群的权限", "The bot has no access to this Base or chat",
                f"Feishu denied access{where}, code {exc.code}: share the Base with the app (or add the "
                f"bot to the chat), then run `gtm doctor`.")
    if isinstance(exc, AuthError):
        return ("机器人暂时无法登录飞书", "The bot cannot sign in to Feishu right now",
                f"Feishu rejected the app credentials{where}, code {exc.code}: check GTM_FEISHU_APP_ID / "
                f"GTM_FEISHU_APP_SECRET and GTM_FEISHU_DOMAIN, then run `gtm doctor`.")
    if isinstance(exc, (RateLimited, TransientError)):
        return ("飞书暂时繁忙，请稍后再试", "Feishu is busy; please try again shortly",
                f"Feishu was busy or unreachable{where}, code {exc.code}; it is retried on the next run.")
    return ("飞书返回了错误，已记录", "Feishu returned an error; it was logged",
            f"Feishu error{where}, code {exc.code}: {clip(exc.msg, 160)}")


def explain(exc: BaseException, log_id: str | None = None, *, slug: str = "SLUG") -> Failure:
    """The one map: exception type → (user message, operator message) with a log id; `slug` is the
    project the commands in the advice name (unknown: the placeholder SLUG)."""
    lid = log_id or new_log_id()
    if isinstance(exc, ProjectNotFound):
        return Failure("找不到这个项目", "No such project", str(exc), lid, 2, expected=True)
    if isinstance(exc, StoreOpenError):
        return Failure("服务的数据库无法打开，已通知管理员", "The service's database cannot be opened; the admin was told",
                       str(exc), lid, 1, expected=True)
    if isinstance(exc, SettingsError):
        return Failure("服务配置有误，已通知管理员", "The service is misconfigured; the admin was told",
                       str(exc), lid, 2, expected=True)
    if isinstance(exc, BaseMissing):  # before FeishuError: it is one, with its own way out
        return Failure("项目的多维表格已不存在或无权访问，请联系项目经理",
                       "The project's Base is gone or out of reach; please tell the project manager",
                       f"{exc.message}；用 `gtm init --project SLUG --base <app_token>` 改用另一个多维表格，或换一个 "
                       f"--project 新建 / {exc.message_en}; pass --base <app_token> to use another Base, or a new "
                       f"--project to create one", lid, 1, expected=True)
    if isinstance(exc, FeishuError):
        user, user_en, operator = _feishu(exc, slug)
        return Failure(user, user_en, operator, lid, 1)
    if isinstance(exc, SQLAlchemyError):
        return Failure("服务的数据库暂时不可用，请稍后再试", "The service's database is unavailable; try again later",
                       describe_store_error(exc), lid, 1)
    if isinstance(exc, OSError):
        return Failure("服务暂时无法访问所需资源，请稍后再试", "The service could not reach a resource; try again later",
                       f"{exc.__class__.__name__}: {clip(exc)}", lid, 1)
    return Failure("出了点问题，已记录，请稍后再试", "Something went wrong; it was logged — please try again",
                   f"unexpected {exc.__class__.__name__}: {clip(exc)}", lid, 1)


def log_failure(where: str, exc: BaseException, *, logger: logging.Logger | None = None,
                slug: str = "SLUG") -> Failure:
    """Explain `exc` and log it once: operator message, log id and the traceback (the message says
    everything on its own: `extra` marks it explained, so a one-line log keeps it as it is)."""
    f = explain(exc, slug=slug)
    (logger or log).error("%s failed [%s]: %s", where, f.log_id, f.operator, exc_info=exc,
                          extra={EXPLAINED: True})
    return f
