"""The Python SDK against a live brig API (``brig system up``).

Skipped unless BRIG_HOME is set and $BRIG_HOME/run/api.sock exists. The image
is BRIG_SDK_IMAGE (default localhost/brig-busybox:latest). Every cell it makes
is named sdk-live-* and removed, whatever happens.

    BRIG_HOME=~/.brig python3 -m unittest -v tests/sdk/test_sdk_live.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
import unittest
import uuid
from pathlib import Path
from typing import Any, List, Optional, Set, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "sdk" / "python"))

import brig  # noqa: E402

IMAGE = os.environ.get("BRIG_SDK_IMAGE", "localhost/brig-busybox:latest")
BRIG_HOME = os.environ.get("BRIG_HOME", "")
SOCKET = os.path.join(BRIG_HOME, "run", "api.sock") if BRIG_HOME else ""
SLEEP = ["sleep", "600"]


def skip_reason() -> Optional[str]:
    if not BRIG_HOME:
        return "BRIG_HOME is not set (set it to a brig home whose API is up)"
    if not os.path.exists(SOCKET):
        return f"no API socket at {SOCKET} (brig system up starts it)"
    return None


def setUpModule() -> None:
    reason = skip_reason()
    if reason:
        print(f"test_sdk_live: skipped: {reason}", file=sys.stderr)
        raise unittest.SkipTest(reason)


class LiveTest(unittest.TestCase):
    b: brig.Brig
    names: Set[str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.b = brig.Brig(socket=SOCKET)
        cls.names = set()

    @classmethod
    def tearDownClass(cls) -> None:
        # Whatever a failed test left behind.
        for name in sorted(cls.names):
            cls.remove_quietly(name)

    @classmethod
    def remove_quietly(cls, name: str) -> None:
        try:
            cls.b.get(name).remove(force=True)
        except brig.BrigError as e:
            if e.status != 404:
                print(f"test_sdk_live: could not remove {name}: {e}", file=sys.stderr)

    def new_name(self, tag: str) -> str:
        """A fresh name, removed when the test ends."""
        name = f"sdk-live-{tag}-{uuid.uuid4().hex[:8]}"
        self.names.add(name)
        self.addCleanup(self.remove_quietly, name)
        return name

    def cell(self, tag: str, **spec: Any) -> brig.Cell:
        spec.setdefault("command", SLEEP)
        return self.b.create(IMAGE, name=self.new_name(tag), **spec)

    def assertStatus(self, status: int, fn: Any, *args: Any, **kwargs: Any) -> brig.BrigError:
        with self.assertRaises(brig.BrigError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.status, status, str(cm.exception))
        self.assertTrue(cm.exception.message)
        return cm.exception

    # -----------------------------------------------------------------------

    def test_run_echo(self) -> None:
        before = {c.name for c in self.b.list()}
        r = self.b.run(IMAGE, ["echo", "hi"])
        self.assertEqual(r, brig.Result(exit_code=0, stdout="hi\n", stderr="", timed_out=False))
        left = {c.name for c in self.b.list()} - before
        self.assertEqual([n for n in left if n.startswith("sdk-run-")], [], "run() left its cell")

    def test_exec_streams_as_the_command_writes(self) -> None:
        c = self.cell("stream")
        self.assertEqual(c.state, "running")
        chunks: List[Tuple[float, str]] = []
        r = c.exec(["sh", "-c", "echo first; sleep 1; echo second"],
                   on_stdout=lambda d: chunks.append((time.monotonic(), d)))
        returned = time.monotonic()
        self.assertEqual((r.exit_code, r.stdout), (0, "first\nsecond\n"))
        self.assertGreaterEqual(len(chunks), 2, chunks)
        first_at, first = chunks[0]
        self.assertEqual(first, "first\n")
        # The first line came a second before the rest, so before the exit line.
        self.assertGreaterEqual(returned - first_at, 0.7)
        second_at = next(t for t, d in chunks if "second" in d)
        self.assertGreaterEqual(second_at - first_at, 0.7)

    def test_exit_codes_and_stderr(self) -> None:
        c = self.cell("exit")
        r = c.exec(["sh", "-c", "echo oops >&2; exit 3"])
        self.assertEqual((r.exit_code, r.stdout, r.stderr, r.timed_out), (3, "", "oops\n", False))
        self.assertEqual(c.exec(["true"]).exit_code, 0)

    def test_exec_stdin_env_and_timeout(self) -> None:
        c = self.cell("stdin")
        r = c.exec(["sh", "-c", 'cat; echo "$FOO"'], stdin="in\n", env={"FOO": "bar"})
        self.assertEqual((r.exit_code, r.stdout), (0, "in\nbar\n"))
        t0 = time.monotonic()
        r = c.exec(["sleep", "30"], timeout=1)
        self.assertEqual((r.exit_code, r.timed_out), (124, True))
        self.assertLess(time.monotonic() - t0, 20)

    def test_write_and_read_files(self) -> None:
        c = self.cell("files")
        data = bytes(range(256)) * 16
        self.assertEqual(c.write_file("notes/a.bin", data), len(data))
        self.assertEqual(c.read_file("notes/a.bin"), data)
        c.write_file("notes/a.txt", "hello from the host\n")
        # The exec's working directory is the workspace.
        self.assertEqual(c.exec(["cat", "notes/a.txt"]).stdout, "hello from the host\n")
        self.assertEqual(c.exec(["sh", "-c", "echo made > out.txt"]).exit_code, 0)
        self.assertEqual(c.read_file("out.txt"), b"made\n")

    def test_paths_that_leave_the_workspace_are_400(self) -> None:
        c = self.cell("symlink")
        self.assertEqual(c.exec(["ln", "-s", "/etc/passwd", "link"]).exit_code, 0)
        self.assertEqual(c.exec(["ln", "-s", "/etc", "etcdir"]).exit_code, 0)
        self.assertStatus(400, c.read_file, "link")
        self.assertStatus(400, c.read_file, "etcdir/passwd")
        self.assertStatus(400, c.write_file, "link", b"x")
        self.assertStatus(400, c.read_file, "../x")
        self.assertStatus(400, c.read_file, "/etc/passwd")
        # The write through the link changed nothing.
        self.assertNotEqual(c.exec(["head", "-c", "1", "/etc/passwd"]).stdout, "x")

    def test_allow_and_network(self) -> None:
        c = self.cell("policy", allow=["api.example.com"])
        rules = c.allow("pypi.org")
        hosts = [r if isinstance(r, str) else r.get("domain") for r in rules["allow"]]
        self.assertIn("pypi.org", hosts)
        self.assertIn("api.example.com", hosts)
        self.assertIsInstance(c.deny("x.example")["deny"], list)
        records = c.network()
        self.assertIsInstance(records, list)
        for rec in records:
            self.assertIsInstance(rec, dict)

    def test_logs(self) -> None:
        c = self.cell("logs", command=["sh", "-c", "echo hello-logs; exec sleep 600"])
        deadline = time.monotonic() + 15
        while "hello-logs" not in c.logs() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertIn("hello-logs", c.logs())

    def test_list_and_get(self) -> None:
        c = self.cell("list")
        listed = {x.name: x for x in self.b.list()}
        self.assertIn(c.name, listed)
        self.assertEqual(listed[c.name].state, "running")
        got = self.b.get(c.name)
        self.assertEqual((got.name, got.state), (c.name, "running"))
        self.assertIsNone(got.exit_code)
        self.assertTrue(got.image)
        self.assertIs(c.refresh(), c)

    def test_missing_cell_is_404(self) -> None:
        missing = "sdk-live-missing-" + uuid.uuid4().hex[:8]
        self.assertStatus(404, self.b.get, missing)
        gone = self.cell("gone")
        gone.remove(force=True)
        self.assertStatus(404, gone.exec, ["true"])
        self.assertStatus(404, gone.refresh)

    def test_duplicate_name_is_409(self) -> None:
        c = self.cell("dup")
        self.assertStatus(409, self.b.create, IMAGE, SLEEP, name=c.name)
        self.assertEqual(self.b.get(c.name).state, "running")  # the first one is untouched

    def test_invalid_spec_is_400(self) -> None:
        name = self.new_name("bad")
        e = self.assertStatus(400, self.b.create, IMAGE, SLEEP, name=name, memroy="1g")
        self.assertIn("memroy", e.message)
        self.assertTrue(e.fix)
        self.assertStatus(404, self.b.get, name)  # rolled back: nothing made

    def test_stop_start_remove(self) -> None:
        c = self.cell("life")
        self.assertIs(c.stop(timeout=2), c)
        self.assertNotEqual(c.state, "running")
        self.assertIsNotNone(c.exit_code)
        self.assertStatus(409, c.exec, ["true"])
        c.start()
        self.assertEqual(c.state, "running")
        self.assertEqual(c.exec(["true"]).exit_code, 0)
        self.assertStatus(409, c.remove)  # running: needs force
        c.remove(force=True)
        self.assertStatus(404, self.b.get, c.name)

    def test_with_removes(self) -> None:
        with self.cell("with") as c:
            self.assertEqual(c.exec(["echo", "x"]).stdout, "x\n")
        self.assertStatus(404, self.b.get, c.name)

    def test_concurrent_creates_of_one_name(self) -> None:
        name = self.new_name("race")
        barrier = threading.Barrier(2, timeout=30)
        results: List[Any] = [None, None]

        def create(i: int) -> None:
            barrier.wait()
            try:
                results[i] = self.b.create(IMAGE, SLEEP, name=name)
            except brig.BrigError as e:
                results[i] = e

        threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        made = [r for r in results if isinstance(r, brig.Cell)]
        refused = [r for r in results if isinstance(r, brig.BrigError)]
        self.assertEqual(len(made), 1, results)
        self.assertEqual([e.status for e in refused], [409], results)
        self.assertEqual(self.b.get(name).state, "running")

    def test_events(self) -> None:
        events = self.b.events(timeout=120)
        try:
            c = self.cell("events")
            for ev in events:
                if ev.get("cell") == c.name:
                    self.assertTrue(ev.get("kind"))
                    break
        finally:
            events.close()


if __name__ == "__main__":
    unittest.main()
