"""The command runner with real child programs, the chat runner against a real HTTP server."""

from __future__ import annotations

import json
import shlex
import socket
import sys
import textwrap
import traceback
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from backend.debates import ChatCompletionsRunner, CommandRunner, Persona, Turn
from backend.errors import DebateFailed

TOPIC = "Open-source AI does more good than harm"
API_KEY = "sk-test-0123456789abcdefSECRET"


# --- helpers: child programs ---------------------------------------------------------------------


def program(tmp_path: Path, body: str) -> str:
    """A command line that runs ``body`` as a Python script with this interpreter."""
    script = tmp_path / "council.py"
    script.write_text(textwrap.dedent(body))
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    """True once the process is gone (an orphaned grandchild is reaped by init a moment later)."""
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def read_pids(path: Path, count: int, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = path.read_text().split() if path.exists() else []
        if len(pids) >= count:
            return [int(pid) for pid in pids]
        time.sleep(0.05)
    raise AssertionError(f"the child wrote no pids to {path}")


def run(runner: Any, cancel: threading.Event | None = None) -> list[Turn]:
    return list(runner.turns(TOPIC, debate_id="debate_it", cancel=cancel or threading.Event()))


# A child that records its pid and a grandchild's, speaks once, then keeps running.
LINGERING = """
    import json, subprocess, sys, time
    pids = sys.argv[1]  # the topic follows as argv[2]
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(pids, "w") as f:
        f.write(f"{__import__('os').getpid()} {grandchild.pid}")
    print(json.dumps({"speaker": "Ada", "text": "First and only."}), flush=True)
    time.sleep(60)
"""


# --- CommandRunner ----------------------------------------------------------------------------------


def test_command_turns_are_read_from_json_lines(tmp_path: Path) -> None:
    command = program(tmp_path, """
        import json, os, sys
        def say(**turn): print(json.dumps(turn), flush=True)
        say(speaker="Ada", text="Topic is " + sys.argv[1], stance="for", confidence=0.9, round=1)
        print("", flush=True)
        say(speaker="Bo", text="Env topic: " + os.environ["AI_COUNCIL_TOPIC"])
        say(speaker="Cy", text="Id: " + os.environ["AI_COUNCIL_DEBATE_ID"], stance="against",
            confidence=-0.2, round=2)
    """)
    turns = run(CommandRunner(command, timeout_seconds=30))
    assert [(t.speaker, t.stance, t.confidence, t.round) for t in turns] == [
        ("Ada", "for", 0.9, 1), ("Bo", "undecided", 0.5, 1), ("Cy", "against", 0.0, 2)]
    assert [t.text for t in turns] == [f"Topic is {TOPIC}", f"Env topic: {TOPIC}", "Id: debate_it"]
    assert all(t.time.tzinfo is not None for t in turns)
    assert turns[0].time <= turns[1].time <= turns[2].time


def test_command_turns_arrive_while_the_program_still_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    command = program(tmp_path, f"""
        import json, os, time
        print(json.dumps({{"speaker": "Ada", "text": "Before."}}), flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.02)
        print(json.dumps({{"speaker": "Bo", "text": "After."}}), flush=True)
    """)
    turns = CommandRunner(command, timeout_seconds=10).turns(TOPIC, debate_id="d", cancel=threading.Event())
    assert next(turns).text == "Before."  # the program is still waiting for the go file
    go.touch()
    assert [t.text for t in turns] == ["After."]


def test_a_bad_line_fails_naming_its_number_and_stops_the_program(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = program(tmp_path, f"""
        import json, os, time
        open({str(pids)!r}, "w").write(str(os.getpid()))
        print(json.dumps({{"speaker": "Ada", "text": "Fine."}}), flush=True)
        print("Thinking about it...", flush=True)
        time.sleep(60)
    """)
    turns = CommandRunner(command, timeout_seconds=30).turns(TOPIC, debate_id="d", cancel=threading.Event())
    assert next(turns).text == "Fine."
    with pytest.raises(DebateFailed, match=r"line 2 is not JSON .*'Thinking about it\.\.\.'"):
        next(turns)
    assert wait_gone(read_pids(pids, 1)[0])


def test_a_nonzero_exit_fails_with_the_code_and_the_end_of_stderr(tmp_path: Path) -> None:
    command = program(tmp_path, """
        import json, sys
        print(json.dumps({"speaker": "Ada", "text": "Fine."}), flush=True)
        sys.stderr.write("noise " * 300 + "model file not found: council.gguf\\n")
        sys.exit(3)
    """)
    runner = CommandRunner(command, timeout_seconds=30)
    with pytest.raises(DebateFailed, match="exited with code 3") as failure:
        run(runner)
    message = str(failure.value)
    assert message.endswith("model file not found: council.gguf")
    assert len(message) < 600  # only the tail of stderr


def test_a_cancel_mid_run_ends_the_program_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    cancel = threading.Event()
    runner = CommandRunner(f"{program(tmp_path, LINGERING)} {shlex.quote(str(pids))}", timeout_seconds=30)
    turns = runner.turns(TOPIC, debate_id="d", cancel=cancel)
    assert next(turns).text == "First and only."
    child, grandchild = read_pids(pids, 2)
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    assert list(turns) == []  # a cancel ends the debate without an error
    assert time.monotonic() - started < 2.0
    assert wait_gone(child) and wait_gone(grandchild)


def test_closing_the_generator_ends_the_program(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    runner = CommandRunner(f"{program(tmp_path, LINGERING)} {shlex.quote(str(pids))}", timeout_seconds=30)
    turns = runner.turns(TOPIC, debate_id="d", cancel=threading.Event())
    next(turns)
    child, grandchild = read_pids(pids, 2)
    turns.close()
    assert wait_gone(child) and wait_gone(grandchild)


@pytest.mark.slow
def test_a_program_that_ignores_terminate_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = program(tmp_path, f"""
        import json, os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(pids)!r}, "w").write(str(os.getpid()))
        print(json.dumps({{"speaker": "Ada", "text": "You cannot stop me."}}), flush=True)
        time.sleep(60)
    """)
    cancel = threading.Event()
    turns = CommandRunner(command, timeout_seconds=30).turns(TOPIC, debate_id="d", cancel=cancel)
    next(turns)
    cancel.set()
    started = time.monotonic()
    assert list(turns) == []
    assert 4.0 < time.monotonic() - started < 8.0  # terminate, 5 s grace, then kill
    assert wait_gone(read_pids(pids, 1)[0])


def test_a_program_over_its_time_limit_fails_and_is_stopped(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = program(tmp_path, f"""
        import os, time
        open({str(pids)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """)
    with pytest.raises(DebateFailed, match="time limit of 0.5 s"):
        run(CommandRunner(command, timeout_seconds=0.5))
    assert wait_gone(read_pids(pids, 1)[0])


def test_a_missing_program_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(DebateFailed, match="cannot start command .*no-such-council"):
        run(CommandRunner(str(tmp_path / "no-such-council")))


# --- ChatCompletionsRunner against a real HTTP server ---------------------------------------------


def completion(content: str) -> dict[str, Any]:
    """The response shape of the OpenAI / Ollama chat completions API."""
    return {
        "id": "chatcmpl-417", "object": "chat.completion", "created": 1760000000,
        "model": "llama3.2", "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 182, "completion_tokens": 64, "total_tokens": 246},
    }


class ChatServer(ThreadingHTTPServer):
    """Records every request and answers with the queued replies: (status, body) or "hang"."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[dict[str, Any]] = []
        self.replies: list[Any] = []
        self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def answer(self, *contents: str) -> None:
        self.replies.extend((200, completion(content)) for content in contents)


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self) -> None:  # noqa: N802 (the http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "json": json.loads(body)})
        reply = self.server.replies.pop(0) if self.server.replies else (404, {"error": "no reply queued"})
        if reply == "hang":
            self.server.release.wait(10)
            return
        status, doc = reply
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    thread = threading.Thread(target=chat.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield chat
    chat.release.set()
    chat.shutdown()
    chat.server_close()
    thread.join(5)


PANEL = (Persona("Ada", "an optimistic technologist", "tools widen what people can do", "for"),
         Persona("Bo", "a sceptical ethicist", "consent comes first", "against"))


def chat_runner(server: ChatServer, **options: Any) -> ChatCompletionsRunner:
    return ChatCompletionsRunner(server.base_url, "llama3.2", personas=PANEL, rounds=1, **options)


def test_each_turn_is_one_chat_request_of_the_documented_shape(server: ChatServer) -> None:
    server.answer('{"stance": "for", "confidence": 0.8, "text": "Openness speeds up safety research."}',
                  '{"stance": "against", "confidence": 0.6, "text": "Weights cannot be recalled."}')
    turns = run(chat_runner(server))
    assert [(t.speaker, t.stance, t.round) for t in turns] == [("Ada", "for", 1), ("Bo", "against", 1)]
    first, second = server.requests
    assert first["path"] == "/v1/chat/completions"
    assert first["json"]["model"] == "llama3.2" and first["json"]["temperature"] == 0.7
    assert [m["role"] for m in first["json"]["messages"]] == ["system", "user"]
    system, user = (m["content"] for m in first["json"]["messages"])
    assert "Ada" in system and "tools widen what people can do" in system and "JSON" in system
    assert TOPIC in user
    assert "Openness speeds up safety research." in second["json"]["messages"][1]["content"]
    assert first["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in first["headers"]


def test_the_api_key_is_sent_as_a_bearer_token(server: ChatServer) -> None:
    server.answer("Yes.", "No.")
    run(chat_runner(server, api_key=API_KEY))
    assert {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {API_KEY}"}


def test_every_persona_speaks_in_every_round(server: ChatServer) -> None:
    server.answer(*["Fine."] * 6)
    turns = run(ChatCompletionsRunner(server.base_url, "llama3.2", personas=PANEL, rounds=3))
    assert [(t.round, t.speaker) for t in turns] == [(r, p.name) for r in (1, 2, 3) for p in PANEL]
    assert len(server.requests) == 6


def test_replies_are_read_as_json_fenced_json_or_prose(server: ChatServer) -> None:
    panel = (*PANEL, Persona("Cy", "an economist", "incentives matter", "undecided"))
    server.answer('{"stance": "for", "confidence": 0.9, "text": "Plain JSON."}',
                  'Here is my answer:\n```json\n'
                  '{"stance": "against", "confidence": 0.7, "text": "Fenced."}\n```',
                  "I would rather just talk, honestly.")
    turns = run(ChatCompletionsRunner(server.base_url, "llama3.2", personas=panel, rounds=1))
    assert [(t.stance, t.confidence, t.text) for t in turns] == [
        ("for", 0.9, "Plain JSON."), ("against", 0.7, "Fenced."),
        ("undecided", 0.5, "I would rather just talk, honestly.")]


def test_an_http_error_fails_with_its_status_and_never_the_key(server: ChatServer) -> None:
    error = {"message": f"upstream refused key {API_KEY}", "type": "server_error"}
    server.replies.append((500, {"error": error}))
    runner = chat_runner(server, api_key=API_KEY)
    with pytest.raises(DebateFailed, match="HTTP 500: upstream refused key") as failure:
        run(runner)
    assert API_KEY not in str(failure.value) and API_KEY not in repr(failure.value)
    assert API_KEY not in "".join(traceback.format_exception(failure.value))
    assert API_KEY not in repr(runner)


def test_a_reply_without_choices_fails_clearly(server: ChatServer) -> None:
    server.replies.append((200, {"object": "error", "message": "model not loaded"}))
    with pytest.raises(DebateFailed, match=r"HTTP 200 without choices\[0\]\.message\.content"):
        run(chat_runner(server))


def test_a_server_that_hangs_fails_after_the_timeout(server: ChatServer) -> None:
    server.replies.append("hang")
    started = time.monotonic()
    with pytest.raises(DebateFailed, match="gave no answer within 1 s"):
        run(chat_runner(server, timeout_seconds=1))
    assert time.monotonic() - started < 3.0


def test_a_cancel_does_not_wait_for_a_hanging_server(server: ChatServer) -> None:
    server.replies.append("hang")
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    assert run(chat_runner(server, timeout_seconds=30), cancel) == []
    assert time.monotonic() - started < 1.0


def test_an_unreachable_endpoint_fails_clearly() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = ChatCompletionsRunner(f"http://127.0.0.1:{port}/v1", "llama3.2", personas=PANEL, rounds=1)
    with pytest.raises(DebateFailed, match="could not be reached"):
        run(runner)
