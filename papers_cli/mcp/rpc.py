"""JSON-RPC 2.0 at the edge of `papers mcp`: every line on stdin gets the answer the
specification gives it before the SDK sees it.

The SDK's stdio transport turns a line it cannot parse into a log notification (no
reply: the client waits for ever) and answers an unknown method with -32602. So the
server reads the lines itself (mcp/server.py) and asks `Front` what each one is: a
message for the SDK session, or a reply to send now (-32700 parse error, -32600 invalid
request, -32601 unknown method, -32602 params that are not an object). On the way out
every error text is bounded and escaped, whoever wrote it. Notifications, blank lines
and responses (this server asks nothing) get no reply; a request before initialize, but
ping, is -32600. Nothing here imports the SDK.

MCP revisions: 2025-06-18 removed JSON-RPC batches, so a batch is an invalid request.
2025-03-26 is the one revision that obliges a server to accept batches; a client asking
for it is answered with the latest revision instead (the lifecycle lets a server offer
another version it supports).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from papers_cli.core.sanitize import for_terminal, json_safe

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
MAX_LINE = 16 * 2**20  # bytes in one message; 16 MiB holds any sane tool call
MAX_DEPTH = 64  # MCP messages nest a few levels; deeper is an attack on a recursive parser
MAX_ERROR = 500  # characters of an error text: a message, never an echo of the input
BATCH_ONLY = "2025-03-26"  # the revision that requires batches (see the docstring)
_SURROGATE = re.compile("[\ud800-\udfff]")

Message = dict[str, Any]
RequestId = str | int
# Checks a known method's params: the problem in one line, or None when they are fine.
ParamsCheck = Callable[[str, Any], str | None]


def bounded(text: str, limit: int = MAX_ERROR) -> str:
    """An error text as a client shows it: control and bidi characters escaped (as the
    tools' results are), cut to `limit` characters."""
    s = for_terminal(text)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def short(value: Any, limit: int = 40) -> str:
    """A value named in an error: its JSON, escaped; a long string cut, with its length
    (an 8 MB argument costs a few bytes in the reply)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{short(value[:limit])}… ({len(value):,} characters)"
    if isinstance(value, str | int | float | bool | None):
        return for_terminal(json.dumps(value, ensure_ascii=False))
    return type(value).__name__


def error(rid: RequestId | None, code: int, message: str) -> Message:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": bounded(message)}}


def encode(message: Message) -> bytes:
    """One line of JSON, with C1 and bidi characters as JSON escapes (an id is echoed
    exactly, but not raw to a terminal that shows the stream). An unpaired surrogate
    cannot be UTF-8: then every non-ASCII character is escaped. Same data either way."""
    try:
        text = json_safe(json.dumps(message, ensure_ascii=False, separators=(",", ":")))
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


def read_line(stream: BinaryIO) -> bytes | None:
    """The next line (b"" at the end of input), or None when it is longer than MAX_LINE
    (the rest of it is read and dropped, so the next message starts clean)."""
    line = stream.readline(MAX_LINE + 1)
    if len(line) <= MAX_LINE or line.endswith(b"\n"):
        return line
    while line and not line.endswith(b"\n"):
        line = stream.readline(MAX_LINE)
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads takes NaN and Infinity otherwise


def _request_id(msg: Message) -> RequestId | None:
    """The id if it is one a reply can carry (a string or an integer), else None."""
    rid = msg.get("id")
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return None
    return None if isinstance(rid, str) and _SURROGATE.search(rid) else rid


def _walk_problem(msg: Message) -> str | None:
    """Too deep, or text that is not Unicode (an escaped unpaired surrogate): checked
    without recursion, before anything recursive sees the message."""
    stack: list[tuple[Any, int]] = [(msg, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, dict):
            stack += [(k, depth) for k in node]
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
        elif isinstance(node, str) and not node.isascii() and _SURROGATE.search(node):
            return "a string holds an unpaired surrogate (not Unicode text)"
    return None


def _shape_problem(msg: Message) -> str | None:
    """Why `msg` is not a JSON-RPC 2.0 Request or Notification, or None."""
    walked = _walk_problem(msg)  # first: the checks below must not misname a bad string
    if walked:
        return walked
    if msg.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "id" in msg and _request_id(msg) is None:
        return "id must be a string or an integer"
    if not isinstance(msg.get("method"), str):
        return "method must be a string"
    if "params" in msg and not isinstance(msg["params"], dict | list):
        return "params must be an object"
    return None


class Front:
    """Sorts incoming lines and watches outgoing messages for one session.

    `requests` and `notifications` are the methods the server serves; `check_params`
    validates a known request's params (the SDK would answer -32602 without saying why).
    """

    def __init__(self, requests: Iterable[str], notifications: Iterable[str],
                 check_params: ParamsCheck, latest: str) -> None:
        self.requests, self.notifications = frozenset(requests), frozenset(notifications)
        self.check_params, self.latest = check_params, latest
        self.ready = False  # initialize has been answered
        self._init_ids: set[RequestId] = set()

    def take(self, line: bytes | None) -> tuple[Message | None, Message | None]:
        """(message for the SDK, reply to send now) for one line: at most one is set;
        neither for a blank line, a client's response or a notification we drop."""
        if line is None:
            return None, error(None, INVALID_REQUEST, f"message longer than {MAX_LINE:,} bytes")
        if not line.strip():
            return None, None  # a blank line separates nothing: not a message
        try:
            msg = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError:
            return None, error(None, PARSE_ERROR, "parse error: not UTF-8 text")
        except RecursionError:
            return None, error(None, PARSE_ERROR, "parse error: nested too deeply")
        except ValueError as e:
            return None, error(None, PARSE_ERROR, f"parse error: {e}")
        if isinstance(msg, list):
            return None, error(None, INVALID_REQUEST, "batches are not supported (MCP "
                               "2025-06-18 removed them): send one message a line"
                               if msg else "an empty batch")
        if not isinstance(msg, dict):
            return None, error(None, INVALID_REQUEST, "a message is a JSON object")
        if "method" not in msg and ("result" in msg or "error" in msg):
            return None, None  # a response: this server sends no requests to answer
        return self._request(msg)

    def _request(self, msg: Message) -> tuple[Message | None, Message | None]:
        rid, notify = _request_id(msg), "id" not in msg
        problem = _shape_problem(msg)
        if problem:  # an invalid request is answered even without an id (id null)
            return None, error(rid, INVALID_REQUEST, f"invalid request: {problem}")
        method, params = msg["method"], msg.get("params")
        if notify:  # never answered; the SDK gets only what it can use
            usable = method in self.notifications and isinstance(params, dict | None)
            opens = method == "notifications/initialized"
            return (msg if usable and (self.ready or opens) else None), None
        if method not in self.requests:
            return None, error(rid, METHOD_NOT_FOUND, f"method not found: {short(method)}")
        if isinstance(params, list):
            return None, error(rid, INVALID_PARAMS, "invalid params: MCP params are an "
                               "object, not an array")
        problem = self.check_params(method, params)
        if problem:
            return None, error(rid, INVALID_PARAMS, f"invalid params: {problem}")
        if not self.ready and method not in ("initialize", "ping"):
            return None, error(rid, INVALID_REQUEST, f"{short(method)} before initialize: "
                               "send initialize first")
        if method == "initialize" and rid is not None and isinstance(params, dict):
            self._init_ids.add(rid)
            if params.get("protocolVersion") == BATCH_ONLY:
                msg = {**msg, "params": {**params, "protocolVersion": self.latest}}
        return msg, None

    def sent(self, msg: Message) -> Message:
        """An outgoing message, its error texts bounded and escaped (the SDK's and the
        tools' alike; an error's `data` left out: it has no bound); the answer to
        initialize opens the session."""
        err = msg.get("error")
        if isinstance(err, dict):
            msg["error"] = {"code": err.get("code"),
                            "message": bounded(str(err.get("message", "")))}
        result = msg.get("result")
        if isinstance(result, dict):
            if result.get("isError"):
                for block in result.get("content") or []:
                    if block.get("type") == "text":
                        block["text"] = bounded(str(block.get("text", "")))
            if msg.get("id") in self._init_ids:
                self.ready = True
        return msg
