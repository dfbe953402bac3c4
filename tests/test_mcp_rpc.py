"""`papers mcp` answers every message as JSON-RPC 2.0 says, whatever arrives: a real
server driven with raw lines on stdin (no SDK client between), its stdout read as raw
lines. Each hostile message gets exactly its one reply (or none, for a notification),
one line of JSON with the right code and id, a bounded and escaped text, no traceback
on stderr, and the server answers a valid call after it. The sorter (mcp/rpc.py) is
also tested alone, with generated input."""

from __future__ import annotations

import io
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import SAMPLES

pytest.importorskip("mcp")

from papers_cli.mcp import rpc

PARSE, INVALID, NO_METHOD, BAD_PARAMS = -32700, -32600, -32601, -32602
LATEST = "2025-11-25"
EVIL = "\x1b]52;c;ZWNobw==\x07\u202edrow\u202c\x9b"  # OSC 52, bidi override, C1 CSI
HOSTILE_CHARS = ("\x1b", "\x07", "\u202e", "\u202c", "\x9b")


class Raw:
    """A `papers mcp` process spoken to in raw lines."""

    def __init__(self, db: Path, stderr: Path, *extra: str) -> None:
        self.err_path = stderr
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "papers_cli", "mcp", "--db", str(db), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr.open("wb"))
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, raw: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float = 30) -> dict[str, Any]:
        """The next line: one line, valid JSON, JSON-RPC 2.0."""
        line = self.lines.get(timeout=timeout)
        assert line is not None, "the server closed stdout"
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert not any(c in line.decode() for c in HOSTILE_CHARS)  # JSON-escaped, if any
        msg = json.loads(line)
        assert msg["jsonrpc"] == "2.0" and ("result" in msg) != ("error" in msg)
        return msg  # type: ignore[no-any-return]

    def nothing_pending(self) -> None:
        assert self.lines.empty(), self.lines.get()

    def initialize(self, version: str = LATEST) -> dict[str, Any]:
        self.send(req("init", "initialize", {"protocolVersion": version, "capabilities": {},
                                             "clientInfo": {"name": "raw", "version": "1"}}))
        reply = self.recv()
        assert reply["id"] == "init", reply
        self.send(note("notifications/initialized"))
        return reply

    def close(self) -> str:
        """Ends the session (stdin closed) and gives stderr."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0
        return self.err_path.read_text(errors="replace")


def req(rid: Any, method: str, params: Any = None, **extra: Any) -> bytes:
    msg = {"jsonrpc": "2.0", "id": rid, "method": method, **extra}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg).encode()


def note(method: str, params: Any = None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg).encode()


def tool(rid: Any, name: str, **args: Any) -> bytes:
    return req(rid, "tools/call", {"name": name, "arguments": args})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("rpc") / "corpus.db"
    r = subprocess.run([sys.executable, "-m", "papers_cli", "--db", str(db), "ingest", "-q",
                        str(SAMPLES)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return db


@pytest.fixture
def server(corpus: Path, tmp_path: Path) -> Iterator[Raw]:
    raw = Raw(corpus, tmp_path / "stderr.txt")
    yield raw
    if raw.proc.poll() is None:
        raw.proc.kill()
        raw.proc.wait()


def deep(n: int) -> Any:
    value: Any = "x"
    for _ in range(n):
        value = [value]
    return value


BIG = "a" * 8_000_000
# (name, raw line, expected): an error code and the id it must carry; "tool" and a
# text the isError result holds; None for no reply at all.
CASES: list[tuple[str, bytes, Any]] = [
    ("not JSON", b"hello there", (PARSE, None)),
    ("truncated JSON", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', (PARSE, None)),
    ("100k open brackets", b"[" * 100_000, (PARSE, None)),
    ("100k nested objects", b'{"a":' * 100_000, (PARSE, None)),
    ("not UTF-8", b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', (PARSE, None)),
    ("NaN is not JSON", b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}', (PARSE, None)),
    ("a number", b"42", (INVALID, None)),
    ("a string", b'"ping"', (INVALID, None)),
    ("empty batch", b"[]", (INVALID, None)),
    ("batch", b"[" + req(9, "ping") + b"]", (INVALID, None)),
    ("no method", b'{"jsonrpc":"2.0","id":10}', (INVALID, 10)),
    ("method a number", req(11, 7), (INVALID, 11)),  # type: ignore[arg-type]
    ("no id, method a number", b'{"jsonrpc":"2.0","method":1,"params":"bar"}',
     (INVALID, None)),
    ("params a string", req(13, "tools/list", "x"), (INVALID, 13)),
    ("params null", b'{"jsonrpc":"2.0","id":14,"method":"ping","params":null}', (INVALID, 14)),
    ("params an array", req(15, "tools/list", [1, 2]), (BAD_PARAMS, 15)),
    ("id null", req(None, "ping"), (INVALID, None)),
    ("id fractional", req(1.5, "ping"), (INVALID, None)),
    ("id 1e999 (infinity)", b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}', (INVALID, None)),
    ("id true", req(True, "ping"), (INVALID, None)),
    ("id an object", req({"x": 1}, "ping"), (INVALID, None)),
    ("jsonrpc 1.0", req(21, "ping", jsonrpc="1.0"), (INVALID, 21)),
    ("no jsonrpc", b'{"id":22,"method":"ping"}', (INVALID, 22)),
    ("unknown method", req(23, "papers/drop"), (NO_METHOD, 23)),
    ("method with hostile text", req(24, EVIL), (NO_METHOD, 24)),
    ("protocol method not served", req(25, "resources/list"), (NO_METHOD, 25)),
    ("8 MB method name", req(26, BIG), (NO_METHOD, 26)),
    ("tools/call without a name", req(27, "tools/call", {"arguments": {}}), (BAD_PARAMS, 27)),
    ("tools/call arguments a list", req(28, "tools/call", {"name": "stats", "arguments": [1]}),
     (BAD_PARAMS, 28)),
    ("initialize params missing", req(29, "initialize", {}), (BAD_PARAMS, 29)),
    ("unknown tool", tool(30, "drop_everything"), (BAD_PARAMS, 30)),
    ("unknown tool, hostile 8 MB name", tool(31, EVIL + BIG), (BAD_PARAMS, 31)),
    ("nested 100 deep", tool(32, "search", query=deep(100)), (INVALID, 32)),
    ("unpaired surrogate", b'{"jsonrpc":"2.0","id":33,"method":"tools/call","params":'
     b'{"name":"search","arguments":{"query":"\\ud800x"}}}', (INVALID, 33)),
    ("unpaired surrogate in the id", b'{"jsonrpc":"2.0","id":"\\udfff","method":"ping"}',
     (INVALID, None)),
    ("8 MB query", tool(35, "search", query=BIG), ("tool", "query: longer than 100,000")),
    ("NUL in the query", tool(36, "search", query="sparse\x00 OR 1=1"),
     ("tool", "QUERY: contains a NUL character")),
    ("NUL in raw FTS5", tool(37, "search", query="a\x00", raw=True), ("tool", "NUL")),
    ("hostile sort", tool(38, "list", sort=EVIL), ("tool", "sort:")),
    ("limit a word", tool(39, "search", query="x", limit="ten"),
     ("tool", "limit: expected integer")),
    ("unknown argument", tool(40, "search", query="x", **{EVIL: 1}), ("tool", "unknown arg")),
    ("id an array of 8 MB", tool(41, "show", id=[BIG]), ("tool", "id: expected")),
    ("huge integer id", req(10**30, "ping"), ("echo", 10**30)),
    ("hostile string id", req(EVIL, "ping"), ("echo", EVIL)),
    ("unknown notification", note("papers/whatever", {"a": 1}), None),
    ("notification, params an array", note("notifications/cancelled", [1]), None),
    ("cancel of no request", note("notifications/cancelled", {"requestId": 999}), None),
    ("a response nobody asked for", b'{"jsonrpc":"2.0","id":47,"result":{}}', None),
    ("blank line", b"   ", None),
]


def check_reply(name: str, msg: dict[str, Any], expected: Any) -> None:
    text = json.dumps(msg, ensure_ascii=False)
    assert len(text) < 2000, f"{name}: {len(text)} characters"  # never an echo
    if expected[0] == "echo":  # any string or integer id comes back exactly
        assert msg["id"] == expected[1] and msg["result"] == {}, name
        return
    if expected[0] == "tool":
        content = msg["result"]["content"][0]["text"]
        assert msg["result"]["isError"] is True and expected[1] in content, (name, content)
        shown = content
    else:
        code, rid = expected
        assert msg["id"] == rid and msg["error"]["code"] == code, (name, msg)
        shown = msg["error"]["message"]
    assert len(shown) <= rpc.MAX_ERROR, name
    assert not any(c in shown for c in HOSTILE_CHARS), (name, shown)
    assert "database error" not in shown and "doctor" not in shown, (name, shown)


def test_every_hostile_message_gets_its_one_reply(server: Raw) -> None:
    assert server.initialize()["result"]["protocolVersion"] == LATEST
    for n, (name, line, expected) in enumerate(CASES):
        server.send(line)
        server.send(tool(f"ok{n}", "stats"))  # a valid call right after
        want = 1 if expected is None else 2
        got = [server.recv() for _ in range(want)]  # the SDK may answer in either order
        ok = [m for m in got if m.get("id") == f"ok{n}"]
        assert len(ok) == 1 and ok[0]["result"]["structuredContent"]["papers"] > 0, name
        if expected is not None:
            check_reply(name, next(m for m in got if m.get("id") != f"ok{n}"), expected)
    server.send(req("last", "ping"))
    assert server.recv() == {"jsonrpc": "2.0", "id": "last", "result": {}}
    server.nothing_pending()  # no reply more than one a request
    stderr = server.close()
    assert "Traceback" not in stderr and len(stderr) < 10_000, stderr[-2000:]


def test_a_message_too_long_is_refused_and_the_next_one_served(server: Raw) -> None:
    server.initialize()
    server.send(tool(1, "search", query="a" * (rpc.MAX_LINE + 10)))
    reply = server.recv()
    assert reply["id"] is None and reply["error"]["code"] == INVALID
    assert "longer than" in reply["error"]["message"]
    server.send(req(2, "ping"))
    assert server.recv()["id"] == 2
    assert "Traceback" not in server.close()


def test_lifecycle(server: Raw) -> None:
    # Before initialize: ping works, anything else is refused with its id.
    server.send(req(1, "ping"))
    assert server.recv() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    server.send(req(2, "tools/list"))
    reply = server.recv()
    assert reply["id"] == 2 and reply["error"]["code"] == INVALID
    assert "initialize" in reply["error"]["message"]
    server.send(tool(3, "stats"))
    assert server.recv()["error"]["code"] == INVALID
    # A bad initialize says what is wrong; the session can still begin.
    server.send(req(4, "initialize", {"protocolVersion": LATEST}))
    reply = server.recv()
    assert reply["id"] == 4 and reply["error"]["code"] == BAD_PARAMS
    assert "capabilities" in reply["error"]["message"]
    # 2025-03-26 requires batches, which this server refuses: it offers the latest.
    assert server.initialize("2025-03-26")["result"]["protocolVersion"] == LATEST
    server.send(req(5, "tools/list"))
    assert {t["name"] for t in server.recv()["result"]["tools"]} >= {"search", "stats"}
    assert "Traceback" not in server.close()


def test_older_revisions_are_kept(server: Raw) -> None:
    assert server.initialize("2025-06-18")["result"]["protocolVersion"] == "2025-06-18"
    server.close()


def test_nul_in_any_text_argument_is_a_bad_argument(corpus: Path, tmp_path: Path) -> None:
    """Every text argument of every tool: a NUL is refused by name before any SQL."""
    from papers_cli.mcp.tools import TOOLS

    copy = tmp_path / "w.db"
    copy.write_bytes(corpus.read_bytes())
    raw = Raw(copy, tmp_path / "stderr.txt", "--allow-write")
    raw.initialize()
    sent = 0
    for t in TOOLS:
        schema = t.input_schema()
        for arg, prop in schema["properties"].items():
            kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            if ("string" not in kinds and "array" not in kinds) or "enum" in prop:
                continue
            args = {k: ["1"] if schema["properties"][k]["type"] == "array" else "1"
                    for k in schema["required"]}
            args[arg] = ["x\x00y"] if "array" in kinds else "x\x00y"
            raw.send(tool(sent, t.name, **args))
            reply = raw.recv()
            text = reply["result"]["content"][0]["text"]
            assert reply["id"] == sent and reply["result"]["isError"], (t.name, arg)
            assert "NUL" in text and "database" not in text, (t.name, arg, text)
            sent += 1
    assert sent >= 20
    assert "Traceback" not in raw.close()


# ---------------------------------------------------------------- the sorter alone


def front() -> rpc.Front:
    return rpc.Front({"initialize", "ping", "tools/call"}, {"notifications/initialized"},
                     lambda method, params: None, LATEST)


def test_read_line_drops_an_overlong_line_whole() -> None:
    stream = io.BytesIO(b"x" * (rpc.MAX_LINE + 5) + b"\n" + b'{"next":1}\n')
    assert rpc.read_line(stream) is None
    assert rpc.read_line(stream) == b'{"next":1}\n'
    assert rpc.read_line(stream) == b""


def test_errors_are_bounded_and_escaped() -> None:
    f = front()
    f.ready = True
    sent = f.sent({"jsonrpc": "2.0", "id": 1, "error": {"code": 0, "message": EVIL * 10**5,
                                                         "data": BIG}})
    assert len(sent["error"]["message"]) <= rpc.MAX_ERROR and "data" not in sent["error"]
    result = f.sent({"jsonrpc": "2.0", "id": 2, "result": {
        "isError": True, "content": [{"type": "text", "text": EVIL + BIG}]}})
    text = result["result"]["content"][0]["text"]
    assert len(text) <= rpc.MAX_ERROR and "\\x1b" in text and "\x1b" not in text
    assert rpc.short(BIG).endswith("(8,000,000 characters)") and len(rpc.short(BIG)) < 70


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)
messages = st.fixed_dictionaries({}, optional={
    "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | json_values,
    "id": st.integers() | st.text(max_size=5) | json_values,
    "method": st.sampled_from(["ping", "tools/call", "initialize", "x"]) | json_values,
    "params": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
    "result": json_values})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), messages.map(lambda m: json.dumps(m).encode()),
                 json_values.map(lambda v: json.dumps(v).encode())))
def test_any_line_is_sorted_without_raising(line: bytes) -> None:
    for ready in (False, True):
        f = front()
        f.ready = ready
        message, reply = f.take(line)
        assert message is None or reply is None
        if reply is not None:
            out = rpc.encode(reply)
            assert out.endswith(b"\n") and out.count(b"\n") == 1
            back = json.loads(out)
            assert back["error"]["code"] in (PARSE, INVALID, NO_METHOD, BAD_PARAMS)
            assert back["id"] is None or type(back["id"]) in (str, int)
        if message is not None:  # only a well-formed request or notification passes
            assert message["jsonrpc"] == "2.0" and isinstance(message["method"], str)
