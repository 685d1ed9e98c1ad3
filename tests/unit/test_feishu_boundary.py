"""Only the Feishu boundary imports lark-oapi: `gtm.sync.feishu` (calls) and the bot's event
transports (long connection, webhook parsing). Everything else gets plain data from the wrappers."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("bot", "sync", "schemas", "benchmarks")
ALLOWED = ("sync/feishu/",)


def _allowed(rel: str) -> bool:
    return rel.startswith(ALLOWED) or "/transports/" in f"/{rel}"


def _imports_lark(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "lark_oapi" or n.startswith("lark_oapi.") for n in names):
            lines.append(node.lineno)
    return lines


def test_only_the_boundary_imports_lark_oapi():
    offenders = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if _allowed(rel):
                continue
            for line in _imports_lark(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
                offenders.append(f"{rel}:{line}")
    assert offenders == [], "lark_oapi imported outside sync/feishu/ and bot/**/transports/: " + ", ".join(offenders)


def test_the_check_sees_function_level_imports():
    """The walk finds an import anywhere in a module (a function body too), not only at the top."""
    src = "def f():\n    from lark_oapi.api.im.v1 import GetChatRequest\n    import lark_oapi as lark\n"
    assert _imports_lark(ast.parse(src)) == [2, 3]
    assert _imports_lark(ast.parse("import lark_oapi_extra\nfrom gtm.sync.feishu import im\n")) == []
    assert _allowed("bot/chat/transports/longconn.py") and _allowed("sync/feishu/im.py")
    assert not _allowed("bot/chat/dispatcher.py") and not _allowed("sync/feishu_old.py")
