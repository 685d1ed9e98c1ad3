"""A local Feishu-compatible Open API server (HTTP + long connection) that the real lark-oapi
SDK talks to. It stands alone: it imports nothing of ours, only aiohttp and lark-oapi's protobuf
frame module. Used by the tests, the benchmarks and as the embedded default of `gtm demo`/`serve`.
"""
from gtm.sandbox.server import Sandbox, SandboxConfig  # noqa: F401
