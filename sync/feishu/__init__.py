"""The Feishu boundary: the only package (with the bot's event transports) that imports lark-oapi.

`gateway.Gateway` runs every call (rate limits, retries, typed errors from `errors`, stats);
`bitable`, `im`, `drive`, `contact` and `application` build the SDK's requests and hand back
plain data (dicts of the API's JSON, small dataclasses), so no caller sees an SDK object.
"""
