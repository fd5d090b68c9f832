"""The Python SDK against a fake API on a unix socket: requests, answers, streaming, errors.

Run from the repository root: python3 -m unittest -v tests/sdk/test_sdk_unit.py
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Tuple
from unittest import mock
from urllib.parse import parse_qs, urlsplit

SDK = Path(__file__).resolve().parents[2] / "src" / "sdk" / "python"
sys.path.insert(0, str(SDK))

import brig  # noqa: E402
import brig._cell  # noqa: E402

IMAGE = "localhost/brig-busybox:latest"


def cell_json(name: str, state: str = "running", **extra: Any) -> Dict[str, Any]:
    doc = {"name": name, "state": state, "image": IMAGE, "runtime": "runsc", "network_mode": "bridge",
           "address": "10.89.0.2", "created": "2026-12-01T10:00:00Z", "exit_code": None}
    doc.update(extra)
    return doc


class Request:
    """One request as the fake received it."""

    def __init__(self, method: str, target: str, headers: Any, body: bytes) -> None:
        parts = urlsplit(target)
        self.method = method
        self.target = target
        self.path = parts.path  # still quoted, as sent
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet, and the unix peer has no address
        pass

    def dispatch(self) -> None:
        api: FakeAPI = self.server.api  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        req = Request(self.command, self.path, self.headers, body)
        with api.lock:
            api.requests.append(req)
            route = api.routes.get((req.method, req.path))
        if route is None:
            self.send_json(404, {"error": f"no route {req.method} {req.path}", "fix": "see docs/reference/api.md"})
        else:
            route(req, self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    def send_bytes(self, status: int, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, doc: Any) -> None:
        self.send_bytes(status, json.dumps(doc).encode(), "application/json")

    def send_chunked(self, pieces: Iterable[bytes], ctype: str, finish: bool = True) -> None:
        """Each piece is one chunk, written (and so sent) before the next is asked for."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for p in pieces:
            if p:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
        if finish:
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.close_connection = True


Route = Callable[[Request, Handler], None]


def answer(status: int, doc: Any) -> Route:
    return lambda req, h: h.send_json(status, doc)


def ndjson(*records: Dict[str, Any]) -> List[bytes]:
    return [json.dumps(r).encode() + b"\n" for r in records]


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that left is part of some tests; anything else fails the test.
        e = sys.exc_info()[1]
        if not isinstance(e, (BrokenPipeError, ConnectionResetError)):
            self.api.errors.append(e)  # type: ignore[attr-defined]


class FakeAPI:
    """brig's API as far as a test scripts it: routes by (method, path), every request recorded."""

    def __init__(self) -> None:
        # A short directory: AF_UNIX paths are limited to 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="brig-sdk-", dir="/tmp")
        self.socket = os.path.join(self.dir, "api.sock")
        self.lock = threading.Lock()
        self.requests: List[Request] = []
        self.routes: Dict[Tuple[str, str], Route] = {}
        self.errors: List[BaseException] = []
        self.server = Server(self.socket, Handler)
        self.server.api = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, route: Route) -> None:
        with self.lock:
            self.routes[(method, path)] = route

    def sent(self) -> List[Tuple[str, str]]:
        with self.lock:
            return [(r.method, r.target) for r in self.requests]

    def last(self) -> Request:
        with self.lock:
            return self.requests[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


class FakeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.api = FakeAPI()
        self.addCleanup(self.api.close)
        self.addCleanup(lambda: self.assertEqual(self.api.errors, [], "the fake failed"))
        self.b = brig.Brig(socket=self.api.socket, timeout=10)

    def cell(self, name: str = "a") -> brig.Cell:
        self.api.route("GET", f"/v1/cells/{name}", answer(200, cell_json(name)))
        c = self.b.get(name)
        with self.api.lock:
            self.api.requests.clear()
        return c

    def exec_route(self, name: str, *records: Dict[str, Any]) -> None:
        self.api.route("POST", f"/v1/cells/{name}/exec",
                       lambda req, h: h.send_chunked(ndjson(*records), "application/x-ndjson"))


class SocketTest(unittest.TestCase):
    def test_importable_by_path(self) -> None:
        self.assertEqual(Path(brig.__file__).resolve().parent, SDK / "brig")
        self.assertEqual(sorted(brig.__all__), ["Brig", "BrigError", "Cell", "Result", "default_socket"])

    def test_default_socket_is_under_brig_home(self) -> None:
        with mock.patch.dict(os.environ, {"BRIG_HOME": "/srv/brig"}):
            self.assertEqual(brig.Brig().socket, "/srv/brig/run/api.sock")

    def test_default_brig_home_is_dot_brig(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "BRIG_HOME"}
        env["HOME"] = "/home/u"
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(brig.Brig().socket, "/home/u/.brig/run/api.sock")
            self.assertEqual(brig.default_socket(), "/home/u/.brig/run/api.sock")

    def test_missing_socket_says_start_the_api(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(brig.BrigError) as cm:
                brig.Brig(socket=os.path.join(d, "api.sock")).list()
        e = cm.exception
        self.assertIsNone(e.status)
        self.assertEqual(e.fix, "brig system up (starts the API)")
        self.assertIn("api.sock", e.message)
        self.assertIn("fix: brig system up", str(e))

    def test_refused_socket_says_start_the_api(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "api.sock")
            stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stale.bind(path)
            stale.close()  # the file stays, nobody listens: ECONNREFUSED
            with self.assertRaises(brig.BrigError) as cm:
                brig.Brig(socket=path).get("a")
        self.assertIsNone(cm.exception.status)
        self.assertEqual(cm.exception.fix, "brig system up (starts the API)")

    def test_events_connects_at_once(self) -> None:
        with self.assertRaises(brig.BrigError):
            brig.Brig(socket="/nonexistent/api.sock").events()


class CellsTest(FakeTest):
    def test_create_sends_the_spec_and_returns_the_cell(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a", memory="1g")))
        c = self.b.create(image=IMAGE, command=["sleep", "600"], name="a", allow=["api.example.com"],
                          env={"K": "V"}, memory="1g")
        req = self.api.last()
        self.assertEqual((req.method, req.target), ("POST", "/v1/cells"))
        self.assertEqual(req.headers["Content-Type"], "application/json")
        self.assertEqual(req.headers["Connection"], "close")
        self.assertEqual(req.json(), {"image": IMAGE, "command": ["sleep", "600"], "name": "a", "env": {"K": "V"},
                                      "policy": {"allow": ["api.example.com"]}, "memory": "1g"})
        self.assertIsInstance(c, brig.Cell)
        self.assertEqual((c.name, c.state, c.image, c.runtime, c.address), ("a", "running", IMAGE, "runsc", "10.89.0.2"))
        self.assertIsNone(c.exit_code)
        self.assertIsNone(c.exit_reason)
        self.assertEqual(c.memory, "1g")  # a field the SDK does not name
        self.assertEqual(c.fields["network_mode"], "bridge")
        with self.assertRaises(AttributeError):
            c.no_such_field  # noqa: B018

    def test_create_sends_only_what_is_given(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("gen-1")))
        self.b.create(IMAGE)
        self.assertEqual(self.api.last().json(), {"image": IMAGE})

    def test_create_adds_allow_to_a_given_policy(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a")))
        self.b.create(IMAGE, allow=["b.com", {"domain": "c.com", "methods": ["GET"]}],
                      policy={"allow": ["a.com"], "deny": ["x.com"]})
        self.assertEqual(self.api.last().json()["policy"], {
            "allow": ["a.com", "b.com", {"domain": "c.com", "methods": ["GET"]}], "deny": ["x.com"]})

    def test_create_refuses_a_string_command_or_allow(self) -> None:
        with self.assertRaises(TypeError):
            self.b.create(IMAGE, command="sleep 600")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            self.b.create(IMAGE, allow="x.com")
        self.assertEqual(self.api.sent(), [])

    def test_create_errors_carry_status_and_fix(self) -> None:
        msg = "api:1: unknown key \"memroy\"; did you mean \"memory\"?\napi:1: cpus: must be > 0"
        self.api.route("POST", "/v1/cells", answer(400, {"error": msg, "fix": "fix the spec's fields"}))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.create(IMAGE, memroy="1g", cpus=0)
        e = cm.exception
        self.assertEqual((e.status, e.message, e.fix), (400, msg, "fix the spec's fields"))
        self.assertEqual(str(e), msg + " (HTTP 400)\nfix: fix the spec's fields")

        self.api.route("POST", "/v1/cells", answer(409, {"error": "cell a exists", "fix": "choose another name"}))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.create(IMAGE, name="a")
        self.assertEqual((cm.exception.status, cm.exception.fix), (409, "choose another name"))

    def test_get_and_404(self) -> None:
        self.api.route("GET", "/v1/cells/a", answer(200, cell_json("a")))
        self.assertEqual(self.b.get("a").name, "a")
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells/a")])
        with self.assertRaises(brig.BrigError) as cm:
            self.b.get("b")
        self.assertEqual(cm.exception.status, 404)
        self.assertEqual(cm.exception.fix, "see docs/reference/api.md")

    def test_a_name_cannot_leave_its_resource(self) -> None:
        with self.assertRaises(brig.BrigError):
            self.b.get("../../v1/events")
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells/..%2F..%2Fv1%2Fevents")])

    def test_list(self) -> None:
        self.api.route("GET", "/v1/cells", answer(200, [cell_json("a"), cell_json("b", "exited", exit_code=3,
                                                                                  exit_reason="stopped")]))
        cells = self.b.list()
        self.assertEqual([(c.name, c.state, c.exit_code) for c in cells], [("a", "running", None), ("b", "exited", 3)])
        self.assertEqual(cells[1].exit_reason, "stopped")
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells")])

    def test_an_error_without_json_keeps_status_and_text(self) -> None:
        self.api.route("GET", "/v1/cells", lambda req, h: h.send_bytes(500, b"boom", "text/plain"))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.list()
        self.assertEqual(cm.exception.status, 500)
        self.assertIn("boom", cm.exception.message)
        self.assertIsNone(cm.exception.fix)

    def test_a_success_that_is_not_json_is_an_error(self) -> None:
        self.api.route("GET", "/v1/cells", lambda req, h: h.send_bytes(200, b"<html>", "text/html"))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.list()
        self.assertIsNone(cm.exception.status)
        self.assertIn("invalid JSON", cm.exception.message)

    def test_a_slow_answer_times_out(self) -> None:
        def slow(req: Request, h: Handler) -> None:
            time.sleep(1)
            h.send_json(200, [])

        self.api.route("GET", "/v1/cells", slow)
        with self.assertRaises(brig.BrigError) as cm:
            brig.Brig(socket=self.api.socket, timeout=0.2).list()
        self.assertIsNone(cm.exception.status)
        self.assertIn("did not answer in time", cm.exception.message)

    def test_threads_share_one_client(self) -> None:
        # Four requests must be in flight at once to pass the barrier.
        barrier = threading.Barrier(4, timeout=5)

        def route(req: Request, h: Handler) -> None:
            barrier.wait()
            h.send_json(200, cell_json(req.path.rsplit("/", 1)[1]))

        names = ["c0", "c1", "c2", "c3"]
        for n in names:
            self.api.route("GET", f"/v1/cells/{n}", route)
        got: Dict[str, str] = {}
        threads = [threading.Thread(target=lambda n=n: got.__setitem__(n, self.b.get(n).name)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(got, {n: n for n in names})


class LifecycleTest(FakeTest):
    def test_refresh_rereads_the_fields(self) -> None:
        c = self.cell()
        self.api.route("GET", "/v1/cells/a", answer(200, cell_json("a", "exited", exit_code=0)))
        self.assertIs(c.refresh(), c)
        self.assertEqual((c.state, c.exit_code), ("exited", 0))

    def test_stop_and_start(self) -> None:
        c = self.cell()
        self.api.route("POST", "/v1/cells/a/stop", answer(200, cell_json("a", "exited", exit_code=143)))
        self.api.route("POST", "/v1/cells/a/start", answer(200, cell_json("a")))
        c.stop()
        self.assertEqual(self.api.last().body, b"")
        self.assertEqual((c.state, c.exit_code), ("exited", 143))
        c.stop(timeout=5)
        self.assertEqual(self.api.last().json(), {"timeout": 5})
        self.assertIs(c.start(), c)
        self.assertEqual(self.api.last().body, b"")
        self.assertEqual(c.state, "running")
        self.assertEqual(self.api.sent(), [("POST", "/v1/cells/a/stop"), ("POST", "/v1/cells/a/stop"),
                                           ("POST", "/v1/cells/a/start")])

    def test_stop_409(self) -> None:
        c = self.cell()
        self.api.route("POST", "/v1/cells/a/stop", answer(409, {"error": "cell a is not running", "fix": "x"}))
        with self.assertRaises(brig.BrigError) as cm:
            c.stop()
        self.assertEqual(cm.exception.status, 409)

    def test_remove(self) -> None:
        c = self.cell()
        self.api.route("DELETE", "/v1/cells/a", answer(200, {"removed": "a"}))
        c.remove()
        c.remove(force=True)
        self.assertEqual(self.api.sent(), [("DELETE", "/v1/cells/a"), ("DELETE", "/v1/cells/a?force=1")])

    def test_with_removes_the_cell(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a")))
        self.api.route("DELETE", "/v1/cells/a", answer(200, {"removed": "a"}))
        with self.b.create(IMAGE, name="a") as c:
            self.assertEqual(c.name, "a")
        self.assertEqual(self.api.sent()[-1], ("DELETE", "/v1/cells/a?force=1"))

    def test_with_removes_the_cell_on_an_exception_and_keeps_it(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a")))
        self.api.route("DELETE", "/v1/cells/a", answer(500, {"error": "podman failed", "fix": "y"}))
        with self.assertRaises(KeyError):
            with self.b.create(IMAGE, name="a"):
                raise KeyError("boom")
        self.assertEqual(self.api.sent()[-1], ("DELETE", "/v1/cells/a?force=1"))

    def test_with_after_a_remove_in_the_block(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a")))
        with self.b.create(IMAGE, name="a") as c:
            self.api.route("DELETE", "/v1/cells/a", answer(200, {"removed": "a"}))
            c.remove(force=True)
            self.api.route("DELETE", "/v1/cells/a", answer(404, {"error": "no cell a", "fix": "z"}))
        self.assertEqual(self.api.sent()[-2:], [("DELETE", "/v1/cells/a?force=1")] * 2)

    def test_with_raises_a_failed_removal(self) -> None:
        self.api.route("POST", "/v1/cells", answer(201, cell_json("a")))
        self.api.route("DELETE", "/v1/cells/a", answer(500, {"error": "podman failed", "fix": "y"}))
        with self.assertRaises(brig.BrigError) as cm:
            with self.b.create(IMAGE, name="a"):
                pass
        self.assertEqual(cm.exception.status, 500)


class ExecTest(FakeTest):
    def test_exec_sends_the_command_and_returns_the_result(self) -> None:
        c = self.cell()
        self.exec_route("a", {"stream": "stdout", "data": "building...\n"}, {"stream": "stderr", "data": "warn\n"},
                        {"stream": "stdout", "data": "done\n"}, {"exit_code": 2})
        out: List[str] = []
        err: List[str] = []
        r = c.exec(["make", "test"], on_stdout=out.append, on_stderr=err.append, timeout=600,
                   env={"CI": "1"}, stdin="input\n")
        req = self.api.last()
        self.assertEqual((req.method, req.target), ("POST", "/v1/cells/a/exec"))
        self.assertEqual(req.json(), {"cmd": ["make", "test"], "env": {"CI": "1"}, "stdin": "input\n", "timeout": 600})
        self.assertEqual(r, brig.Result(exit_code=2, stdout="building...\ndone\n", stderr="warn\n", timed_out=False))
        self.assertFalse(r.ok)
        self.assertEqual(out, ["building...\n", "done\n"])
        self.assertEqual(err, ["warn\n"])

    def test_exec_minimal_body_and_bytes_stdin(self) -> None:
        c = self.cell()
        self.exec_route("a", {"exit_code": 0})
        self.assertTrue(c.exec(["true"]).ok)
        self.assertEqual(self.api.last().json(), {"cmd": ["true"]})
        c.exec(["cat"], stdin="é".encode())
        self.assertEqual(self.api.last().json(), {"cmd": ["cat"], "stdin": "é"})

    def test_exec_refuses_a_string_or_empty_command(self) -> None:
        c = self.cell()
        with self.assertRaises(TypeError):
            c.exec("make test")  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            c.exec([])
        self.assertEqual(self.api.sent(), [])

    def test_exec_streams_before_the_exit_line(self) -> None:
        c = self.cell()
        first_seen = threading.Event()
        order: List[str] = []

        def route(req: Request, h: Handler) -> None:
            def pieces() -> Iterable[bytes]:
                yield from ndjson({"stream": "stdout", "data": "first\n"})
                # The exit line goes only once the client has seen the first chunk.
                seen = first_seen.wait(5)
                order.append("fake: exit line")
                yield from ndjson({"stream": "stdout", "data": "second\n"}, {"exit_code": 0 if seen else 99})
            h.send_chunked(pieces(), "application/x-ndjson")

        self.api.route("POST", "/v1/cells/a/exec", route)

        def on_stdout(data: str) -> None:
            order.append("client: " + data)
            first_seen.set()

        r = c.exec(["sh", "-c", "echo first; sleep 1; echo second"], on_stdout=on_stdout)
        self.assertEqual(r.exit_code, 0)
        self.assertEqual(order, ["client: first\n", "fake: exit line", "client: second\n"])
        self.assertEqual(r.stdout, "first\nsecond\n")

    def test_exec_timeout(self) -> None:
        c = self.cell()
        self.exec_route("a", {"stream": "stdout", "data": "x"}, {"exit_code": 124, "timeout": True})
        r = c.exec(["sleep", "9"], timeout=1)
        self.assertEqual((r.exit_code, r.timed_out, r.stdout, r.ok), (124, True, "x", False))

    def test_exec_on_a_stopped_cell_is_409(self) -> None:
        c = self.cell()
        self.api.route("POST", "/v1/cells/a/exec", answer(409, {"error": "cell a is not running",
                                                                 "fix": "brig cell start a"}))
        with self.assertRaises(brig.BrigError) as cm:
            c.exec(["true"])
        self.assertEqual((cm.exception.status, cm.exception.fix), (409, "brig cell start a"))

    def test_exec_stream_without_an_exit_code(self) -> None:
        c = self.cell()
        self.api.route("POST", "/v1/cells/a/exec", lambda req, h: h.send_chunked(
            ndjson({"stream": "stdout", "data": "x"}), "application/x-ndjson", finish=False))
        with self.assertRaises(brig.BrigError) as cm:
            c.exec(["true"])
        self.assertIsNone(cm.exception.status)

    def test_exec_error_line(self) -> None:
        c = self.cell()
        self.exec_route("a", {"stream": "stdout", "data": "x"}, {"error": "podman exec failed", "fix": "see log"})
        with self.assertRaises(brig.BrigError) as cm:
            c.exec(["true"])
        self.assertEqual((cm.exception.message, cm.exception.fix, cm.exception.status),
                         ("podman exec failed", "see log", 500))

    def test_exec_bad_line(self) -> None:
        c = self.cell()
        self.api.route("POST", "/v1/cells/a/exec", lambda req, h: h.send_chunked([b"not json\n"], "application/x-ndjson"))
        with self.assertRaises(brig.BrigError) as cm:
            c.exec(["true"])
        self.assertIn("invalid JSON", cm.exception.message)

    def test_a_callback_exception_ends_exec(self) -> None:
        c = self.cell()
        self.exec_route("a", {"stream": "stdout", "data": "x"}, {"exit_code": 0})

        def boom(_: str) -> None:
            raise RuntimeError("callback")

        with self.assertRaises(RuntimeError):
            c.exec(["true"], on_stdout=boom)


class RunTest(FakeTest):
    def run_routes(self, exec_route: Route) -> None:
        """Answers a create and, for the name run() chose, its exec and delete."""
        self.created_names: List[str] = []

        def create(req: Request, h: Handler) -> None:
            name = req.json()["name"]
            self.created_names.append(name)
            self.api.route("POST", f"/v1/cells/{name}/exec", exec_route)
            self.api.route("DELETE", f"/v1/cells/{name}", answer(200, {"removed": name}))
            h.send_json(201, cell_json(name))

        self.api.route("POST", "/v1/cells", create)

    def test_run_creates_execs_and_removes(self) -> None:
        self.run_routes(lambda req, h: h.send_chunked(ndjson({"stream": "stdout", "data": "hi\n"}, {"exit_code": 0}),
                                                      "application/x-ndjson"))
        r = self.b.run(IMAGE, ["echo", "hi"], env={"K": "V"}, allow=["x.com"], stdin="in", timeout=30, memory="1g")
        self.assertEqual(r, brig.Result(0, "hi\n", "", False))
        name = self.created_names[0]
        self.assertRegex(name, r"^sdk-run-[0-9a-f]{12}$")
        with self.api.lock:
            create, exec_, delete = self.api.requests
        self.assertEqual(create.json(), {"image": IMAGE, "command": ["sleep", "2147483647"], "name": name,
                                         "env": {"K": "V"}, "policy": {"allow": ["x.com"]}, "memory": "1g"})
        self.assertEqual((exec_.target, exec_.json()), (f"/v1/cells/{name}/exec",
                                                        {"cmd": ["echo", "hi"], "stdin": "in", "timeout": 30}))
        self.assertEqual((delete.method, delete.target), ("DELETE", f"/v1/cells/{name}?force=1"))

    def test_run_names_each_cell_anew(self) -> None:
        self.run_routes(lambda req, h: h.send_chunked(ndjson({"exit_code": 0}), "application/x-ndjson"))
        self.b.run(IMAGE, ["true"])
        self.b.run(IMAGE, ["true"])
        self.assertEqual(len(set(self.created_names)), 2)

    def test_run_removes_the_cell_when_exec_fails(self) -> None:
        self.run_routes(answer(409, {"error": "cell is not running", "fix": "f"}))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.run(IMAGE, ["true"])
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(self.api.sent()[-1], ("DELETE", f"/v1/cells/{self.created_names[0]}?force=1"))

    def test_run_removes_the_cell_when_a_callback_raises(self) -> None:
        self.run_routes(lambda req, h: h.send_chunked(ndjson({"stream": "stderr", "data": "e"}, {"exit_code": 0}),
                                                      "application/x-ndjson"))

        def boom(_: str) -> None:
            raise RuntimeError("callback")

        with self.assertRaises(RuntimeError):
            self.b.run(IMAGE, ["true"], on_stderr=boom)
        self.assertEqual(self.api.sent()[-1], ("DELETE", f"/v1/cells/{self.created_names[0]}?force=1"))

    def test_run_with_a_refused_spec_removes_nothing(self) -> None:
        self.api.route("POST", "/v1/cells", answer(400, {"error": "api:1: memory: bad", "fix": "f"}))
        with self.assertRaises(brig.BrigError) as cm:
            self.b.run(IMAGE, ["true"], memory="2x")
        self.assertEqual(cm.exception.status, 400)
        self.assertEqual([m for m, _ in self.api.sent()], ["POST"])


class FilesTest(FakeTest):
    def test_write_then_read(self) -> None:
        c = self.cell()
        stored: Dict[str, bytes] = {}

        def put(req: Request, h: Handler) -> None:
            stored[req.query["path"]] = req.body
            h.send_json(200, {"path": req.query["path"], "size": len(req.body)})

        self.api.route("PUT", "/v1/cells/a/files", put)
        self.api.route("GET", "/v1/cells/a/files", lambda req, h: h.send_bytes(200, stored[req.query["path"]]))
        data = bytes(range(256)) * 4
        self.assertEqual(c.write_file("notes/a b.txt", data), 1024)
        req = self.api.last()
        self.assertEqual((req.method, req.target), ("PUT", "/v1/cells/a/files?path=notes%2Fa%20b.txt"))
        self.assertEqual(req.headers["Content-Type"], "application/octet-stream")
        self.assertEqual(c.read_file("notes/a b.txt"), data)
        self.assertEqual(self.api.sent()[-1], ("GET", "/v1/cells/a/files?path=notes%2Fa%20b.txt"))
        c.write_file(Path("t.txt"), "héllo")
        self.assertEqual(stored["t.txt"], "héllo".encode())

    def test_a_refused_path_is_400(self) -> None:
        c = self.cell()
        self.api.route("GET", "/v1/cells/a/files", answer(400, {"error": "link: a symlink", "fix": "no symlinks"}))
        with self.assertRaises(brig.BrigError) as cm:
            c.read_file("link")
        self.assertEqual((cm.exception.status, cm.exception.fix), (400, "no symlinks"))

    def test_too_large_a_file_is_refused_before_sending(self) -> None:
        c = self.cell()
        with mock.patch.object(brig._cell, "FILE_LIMIT", 8):
            with self.assertRaises(brig.BrigError) as cm:
                c.write_file("big", b"123456789")
        self.assertIn("64 MiB", cm.exception.message)
        self.assertEqual(self.api.sent(), [])


class PolicyAndRecordsTest(FakeTest):
    def test_allow_and_deny(self) -> None:
        c = self.cell()

        def patch(req: Request, h: Handler) -> None:
            h.send_json(200, {"allow": req.json().get("allow", []), "deny": req.json().get("deny", [])})

        self.api.route("PATCH", "/v1/cells/a/policy", patch)
        self.assertEqual(c.allow("pypi.org"), {"allow": ["pypi.org"], "deny": []})
        self.assertEqual((self.api.last().method, self.api.last().target), ("PATCH", "/v1/cells/a/policy"))
        self.assertEqual(self.api.last().json(), {"allow": ["pypi.org"]})
        c.allow(["a.com", "b.com"], "c.com")
        self.assertEqual(self.api.last().json(), {"allow": ["a.com", "b.com", "c.com"]})
        self.assertEqual(c.deny("x.com")["deny"], ["x.com"])
        self.assertEqual(self.api.last().json(), {"deny": ["x.com"]})
        with self.assertRaises(ValueError):
            c.allow()

    def test_network_records(self) -> None:
        c = self.cell()
        recs = [{"host": "pypi.org", "verdict": "allow"}, {"host": "x.com", "verdict": "deny"}]
        self.api.route("GET", "/v1/cells/a/network",
                       lambda req, h: h.send_chunked(ndjson(*recs) + [b"\n"], "application/x-ndjson"))
        self.assertEqual(c.network(), recs)
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells/a/network")])

    def test_logs(self) -> None:
        c = self.cell()
        self.api.route("GET", "/v1/cells/a/logs", lambda req, h: h.send_bytes(200, b"one\ntwo\n", "text/plain"))
        self.assertEqual(c.logs(), "one\ntwo\n")
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells/a/logs")])

    def test_logs_follow_streams_and_decodes_split_characters(self) -> None:
        c = self.cell()
        got = threading.Event()
        e_acute = "é".encode()

        def pieces() -> Iterable[bytes]:
            yield b"start " + e_acute[:1]
            got.wait(5)
            yield e_acute[1:] + b"\nend\n"

        self.api.route("GET", "/v1/cells/a/logs", lambda req, h: h.send_chunked(pieces(), "text/plain"))
        chunks: List[str] = []

        def on_data(text: str) -> None:
            chunks.append(text)
            got.set()

        self.assertEqual(c.logs(follow=True, on_data=on_data), "start é\nend\n")
        self.assertEqual(self.api.sent(), [("GET", "/v1/cells/a/logs?follow=1")])
        self.assertEqual(chunks, ["start ", "é\nend\n"])


class EventsTest(FakeTest):
    def test_events(self) -> None:
        release = threading.Event()

        def pieces() -> Iterable[bytes]:
            yield b": keep-alive\n\n"
            yield b'event: create\ndata: {"ts": "t1", "kind": "create", "cell": "a"}\n\n'
            release.wait(5)
            yield b'event: start\r\ndata: {"ts": "t2",\r\ndata:  "cell": "a"}\r\n\r\n'
            yield b"event: note\ndata: plain text\n\n"

        self.api.route("GET", "/v1/events", lambda req, h: h.send_chunked(pieces(), "text/event-stream"))
        events = self.b.events()
        first = next(events)
        self.assertEqual(first, {"ts": "t1", "kind": "create", "cell": "a"})
        release.set()
        self.assertEqual(list(events), [{"ts": "t2", "cell": "a", "kind": "start"}, {"kind": "note", "data": "plain text"}])
        self.assertEqual(self.api.sent(), [("GET", "/v1/events")])

    def test_closing_events_disconnects(self) -> None:
        left = threading.Event()

        def forever() -> Iterable[bytes]:
            while True:
                yield b'event: start\ndata: {"cell": "a"}\n\n'
                time.sleep(0.05)

        def route(req: Request, h: Handler) -> None:
            try:
                h.send_chunked(forever(), "text/event-stream")
            except (BrokenPipeError, ConnectionResetError):
                left.set()

        self.api.route("GET", "/v1/events", route)
        events = self.b.events(timeout=5)
        for n, ev in enumerate(events):
            self.assertEqual(ev, {"cell": "a", "kind": "start"})
            if n == 2:
                break
        events.close()
        self.assertTrue(left.wait(5), "the fake kept writing to a client that left")



class PackageTest(unittest.TestCase):
    """`pip install src/sdk/python` builds offline with the in-tree backend."""

    def test_backend_builds_a_wheel_of_the_package(self) -> None:
        import importlib.util
        import zipfile

        root = SDK
        spec = importlib.util.spec_from_file_location("brig_sdk_backend", root / "_build" / "backend.py")
        assert spec is not None and spec.loader is not None
        backend = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(backend)
        self.assertEqual(backend.get_requires_for_build_wheel(), [])  # nothing to fetch
        with tempfile.TemporaryDirectory() as out:
            name = backend.build_wheel(out)
            self.assertEqual(name, "brig-0.1.0-py3-none-any.whl")
            with zipfile.ZipFile(os.path.join(out, name)) as z:
                names = set(z.namelist())
                for py in (root / "brig").glob("*.py"):
                    self.assertIn("brig/" + py.name, names)
                self.assertIn("brig/py.typed", names)
                meta = z.read("brig-0.1.0.dist-info/METADATA").decode()
                self.assertIn("Name: brig", meta)
                self.assertIn("Requires-Python: >=3.9", meta)
                record = z.read("brig-0.1.0.dist-info/RECORD").decode()
                self.assertIn("brig/__init__.py,sha256=", record)


if __name__ == "__main__":
    unittest.main()
