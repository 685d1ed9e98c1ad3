"""Which project a command is about, and the short message answers when that is unclear.

`on_project` wraps a view function about one project: it picks the project first (the one the
argument names, else the chat's, else the asker's only one) and answers "not linked" or "which
project?" instead when it cannot.
"""
from __future__ import annotations

from collections.abc import Callable

from gtm.bot.cards import views as V
from gtm.bot.chat.command import Answer, Command, Handler
from gtm.bot.chat.context import AskContext, ProjectData
from gtm.bot.chat.text import normalise

# commands whose argument may name a project ("状态 星河")
PROJECT_ARG = ("status", "report", "overdue", "this_week", "risks", "dependencies", "issues", "data_problems",
               "critical_path", "workload")


def message(title: str, title_en: str, text: str, text_en: str, color: str = "grey",
            choices: list[str] | None = None) -> V.MessageView:
    """A short answer in words (the `message` template), with optional choices listed."""
    return V.MessageView(title=title, title_en=title_en, text=text, text_en=text_en, color=color,
                         choices=choices or [])


def no_projects() -> V.MessageView:
    return message("你还没有项目", "No projects", "你不在任何项目中。", "You are not in any project.")


def pick_project(cmd: Command, ctx: AskContext) -> ProjectData | V.MessageView:
    """The project a command is about: the arg names one, else the chat's, else the only one."""
    pool = list(ctx.projects)
    cur = ctx.current()
    if cur and all(p.snapshot is not cur.snapshot for p in pool):
        pool.insert(0, cur)
    if cmd.arg and cmd.name in PROJECT_ARG:
        want = normalise(cmd.arg)
        hits = [p for p in pool if want in (normalise(p.name), normalise(p.slug))]
        hits = hits or [p for p in pool if want in normalise(p.name) or want == normalise(p.slug)]
        if len(hits) == 1:
            return hits[0]
        if not hits and cur is None:
            return message("没有这个项目", "No such project", f"找不到项目「{cmd.arg}」。",
                           f"No project named “{cmd.arg}”.", choices=[p.name for p in pool])
        if len(hits) > 1:
            return message("有多个项目匹配", "Several projects match", "请写全项目名称：",
                           "Please give the full project name:", choices=[p.name for p in hits])
    if cur:
        return cur
    if len(pool) == 1:
        return pool[0]
    if not pool:
        return no_projects()
    return message("请指定项目", "Which project?", "你在多个项目中，请在命令后写项目名，例如「状态 项目名」：",
                   "You are in several projects; add the project name, e.g. “status NAME”:",
                   choices=[p.name for p in pool])


def require_project(cmd: Command, ctx: AskContext) -> ProjectData | Answer:
    """The project a command is about, or the answer to give instead (not linked / which one)."""
    if ctx.snapshot is None and ctx.chat_type != "p2p":
        return "not_linked", V.NotLinkedView(chat_id=ctx.chat_id)
    picked = pick_project(cmd, ctx)
    if isinstance(picked, V.MessageView):
        return "message", picked
    return picked


def on_project(fn: Callable[[ProjectData, Command, AskContext], Answer]) -> Handler:
    """A handler for one project's answer: finds the project first (see `require_project`)."""
    def handler(cmd: Command, ctx: AskContext) -> Answer:
        p = require_project(cmd, ctx)
        return p if isinstance(p, tuple) else fn(p, cmd, ctx)

    handler.__name__ = getattr(fn, "__name__", "handler")
    handler.__doc__ = fn.__doc__
    return handler
