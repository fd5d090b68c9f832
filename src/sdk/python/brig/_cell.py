"""A cell as the API describes it, and the calls on one cell."""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from ._errors import BrigError
from ._transport import Transport, ndjson

Output = Optional[Callable[[str], Any]]
PathLike = Union[str, "os.PathLike[str]"]

# The API's limit on a file body (docs/reference/api.md, Conventions).
FILE_LIMIT = 64 << 20
# How long past an exec's own deadline the client waits for the API's last line.
_EXEC_GRACE = 60.0


@dataclass
class Result:
    """How a command ended, with everything it wrote.

    Attributes:
        exit_code: the command's exit status (124 when the timeout killed it).
        stdout: its standard output, decoded as UTF-8 (bad bytes become U+FFFD).
        stderr: its standard error, decoded the same way.
        timed_out: True when the exec's timeout killed it.
    """

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 before any timeout."""
        return self.exit_code == 0 and not self.timed_out


def cell_path(name: str) -> str:
    """The resource path of a cell; the name is quoted so it can never leave /v1/cells/."""
    return "/v1/cells/" + quote(name, safe="")


def _command(cmd: Sequence[str], what: str) -> List[str]:
    # A string would run as one program named by the whole string: refuse it,
    # as the cell spec refuses a string command.
    if isinstance(cmd, (str, bytes)) or not all(isinstance(a, str) for a in cmd):
        raise TypeError(f"{what} must be a list of strings, e.g. ['sh', '-c', 'make test']")
    if not cmd:
        raise ValueError(f"{what} must not be empty")
    return list(cmd)


def _hosts(hosts: Iterable[Union[str, Iterable[str]]]) -> List[str]:
    out: List[str] = []
    for h in hosts:
        if isinstance(h, str):
            out.append(h)
        else:
            out.extend(h)
    if not out:
        raise ValueError("give at least one host")
    return out


class Cell:
    """One cell: its name and the fields the API last reported for it.

    The fields of ``GET /v1/cells/{name}`` are attributes: ``name``, ``state``,
    ``image``, ``runtime``, ``network_mode``, ``address``, ``created``,
    ``exit_code`` (None while running) and ``exit_reason`` (None when the API
    gives none). Any other field the API sends is an attribute too, and
    ``fields`` is the whole object. They are what the API said last: call
    ``refresh()`` to read them again.

    Used as a context manager, the cell is removed (forcibly) when the block
    ends, however it ends.
    """

    name: str
    state: Optional[str]
    image: Optional[str]
    runtime: Optional[str]
    network_mode: Optional[str]
    address: Optional[str]
    created: Optional[str]
    exit_code: Optional[int]
    exit_reason: Optional[str]

    _KNOWN = ("state", "image", "runtime", "network_mode", "address", "created", "exit_code", "exit_reason")

    def __init__(self, transport: Transport, fields: Mapping[str, Any]) -> None:
        self._t = transport
        self.fields: Dict[str, Any] = {}
        self._update(fields)

    def _update(self, fields: Mapping[str, Any]) -> None:
        if not isinstance(fields, Mapping) or not isinstance(fields.get("name"), str):
            raise BrigError(f"the API described a cell without a name: {fields!r}")
        self.fields = dict(fields)
        self.name = fields["name"]
        for key in self._KNOWN:
            setattr(self, key, fields.get(key))

    def __getattr__(self, key: str) -> Any:
        # Only called for attributes not set above: the API's other fields.
        fields = self.__dict__.get("fields", {})
        if key in fields:
            return fields[key]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {key!r}")

    def __repr__(self) -> str:
        return f"Cell(name={self.name!r}, state={self.state!r}, image={self.image!r})"

    def __enter__(self) -> "Cell":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.remove(force=True)
        except BrigError as e:
            # Gone already is what we wanted; any other failure is raised,
            # unless it would hide the exception that ended the block.
            if e.status != 404 and exc_type is None:
                raise

    @property
    def _path(self) -> str:
        return cell_path(self.name)

    # -- lifecycle ------------------------------------------------------------

    def refresh(self) -> "Cell":
        """Reads the cell's fields again (``GET /v1/cells/{name}``); returns the cell."""
        self._update(self._t.call("GET", self._path))
        return self

    def stop(self, timeout: Optional[float] = None) -> "Cell":
        """Stops the cell (``POST .../stop``), waiting ``timeout`` seconds before killing it
        when given (else the API's default); returns the cell with its new fields."""
        body = None if timeout is None else {"timeout": timeout}
        self._update(self._t.call("POST", self._path + "/stop", json_body=body))
        return self

    def start(self) -> "Cell":
        """Starts a stopped cell again (``POST .../start``); returns the cell with its new fields."""
        self._update(self._t.call("POST", self._path + "/start"))
        return self

    def remove(self, force: bool = False) -> None:
        """Removes the cell (``DELETE /v1/cells/{name}``).

        A running cell is refused (BrigError 409) unless ``force``, which
        also removes a workspace that holds files, as ``brig cell rm --force``.
        """
        self._t.call("DELETE", self._path + ("?force=1" if force else ""))

    # -- commands -------------------------------------------------------------

    def exec(self, cmd: Sequence[str], on_stdout: Output = None, on_stderr: Output = None,
             timeout: Optional[float] = None, env: Optional[Mapping[str, str]] = None,
             stdin: Union[str, bytes, None] = None) -> Result:
        """Runs a command in the cell and waits for it (``POST .../exec``).

        Output streams as the command writes it: ``on_stdout`` and
        ``on_stderr`` are called with each chunk (a str) as it arrives, on the
        calling thread, before exec returns; the Result holds all of it too.
        An exception from a callback ends the call (and drops the connection).

        Args:
            cmd: the program and its arguments, e.g. ``["make", "test"]``.
            timeout: seconds; the command is killed then and the Result has
                ``exit_code`` 124 and ``timed_out`` True. None: no deadline.
            env: variables added to the command's environment.
            stdin: written to the command's stdin, which is then closed (bytes
                must be UTF-8: the API carries stdin as JSON text). None: closed at once.

        Raises:
            BrigError: 409 when the cell is not running, 404 when it does not
                exist, status None when the answer ends before the exit code.
        """
        body: Dict[str, Any] = {"cmd": _command(cmd, "cmd")}
        if env is not None:
            body["env"] = dict(env)
        if stdin is not None:
            body["stdin"] = stdin.decode("utf-8") if isinstance(stdin, (bytes, bytearray)) else stdin
        if timeout is not None:
            body["timeout"] = timeout
        out: List[str] = []
        err: List[str] = []
        what = f"exec in {self.name}"
        # The socket waits as long as the command may run: a quiet command
        # sends nothing until it exits.
        read_timeout = None if timeout is None else timeout + _EXEC_GRACE
        with self._t.open("POST", self._path + "/exec", json_body=body, timeout=read_timeout) as s:
            for rec in ndjson(s, what):
                if not isinstance(rec, dict):
                    raise BrigError(f"{what}: the API sent {rec!r}, not an object")
                if "exit_code" in rec:
                    if not isinstance(rec["exit_code"], int):
                        raise BrigError(f"{what}: the API sent a bad exit code: {rec!r}")
                    return Result(exit_code=rec["exit_code"], stdout="".join(out), stderr="".join(err),
                                  timed_out=bool(rec.get("timeout", False)))
                if "error" in rec:
                    # Failed after the 200 was sent: the API's error, as a line.
                    raise BrigError(str(rec["error"]), fix=rec.get("fix"), status=500)
                stream, data = rec.get("stream"), rec.get("data", "")
                if stream == "stdout":
                    out.append(data)
                    if on_stdout is not None:
                        on_stdout(data)
                elif stream == "stderr":
                    err.append(data)
                    if on_stderr is not None:
                        on_stderr(data)
        raise BrigError(f"{what}: the answer ended before the command's exit code",
                        fix="see the API's log ($BRIG_HOME/logs/api.log)")

    # -- workspace files ------------------------------------------------------

    def _file_path(self, path: PathLike) -> str:
        return self._path + "/files?path=" + quote(os.fspath(path), safe="")

    def read_file(self, path: PathLike) -> bytes:
        """The bytes of a file in the cell's workspace (``GET .../files``).

        ``path`` is relative to the workspace. ``..``, an absolute path or a
        symlink anywhere on the path is refused (BrigError 400); a missing file is an error too.
        """
        return self._t.raw("GET", self._file_path(path))

    def write_file(self, path: PathLike, data: Union[bytes, bytearray, memoryview, str]) -> int:
        """Writes a file in the cell's workspace (``PUT .../files``); returns its size.

        Missing parent directories are made; the file is replaced atomically.
        A str is written as UTF-8. Paths are refused as by read_file; more than
        64 MiB is refused before anything is sent.
        """
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(body) > FILE_LIMIT:
            raise BrigError(f"{os.fspath(path)}: {len(body)} bytes is more than the API takes (64 MiB)",
                            fix="write it in parts, or put it in the cell's workspace directory on the host")
        doc = self._t.call("PUT", self._file_path(path), body=body, content_type="application/octet-stream")
        size = doc.get("size") if isinstance(doc, dict) else None
        return size if isinstance(size, int) else len(body)

    # -- network policy and records -------------------------------------------

    def allow(self, *hosts: Union[str, Iterable[str]]) -> Dict[str, List[Any]]:
        """Adds hosts to the cell's allow list, live within a second (``PATCH .../policy``).

        Each host is written as in ``policy.allow`` (``api.x.com``,
        ``*.x.com``, ``host:port``); a list of them is accepted too. Returns the
        cell's rules after the change: ``{"allow": [...], "deny": [...]}``.
        """
        return self._patch_policy("allow", _hosts(hosts))

    def deny(self, *hosts: Union[str, Iterable[str]]) -> Dict[str, List[Any]]:
        """Adds hosts to the cell's deny list, as allow() does to the allow list."""
        return self._patch_policy("deny", _hosts(hosts))

    def _patch_policy(self, key: str, hosts: List[str]) -> Dict[str, List[Any]]:
        rules = self._t.call("PATCH", self._path + "/policy", json_body={key: hosts})
        if not isinstance(rules, dict):
            raise BrigError(f"policy of {self.name}: the API sent {rules!r}, not the cell's rules")
        return rules

    def network(self) -> List[Dict[str, Any]]:
        """Warden's log records for the cell (``GET .../network``), oldest first, one dict each."""
        with self._t.open("GET", self._path + "/network") as s:
            return list(ndjson(s, f"network of {self.name}"))

    def logs(self, follow: bool = False, on_data: Output = None) -> str:
        """The cell's output (``GET .../logs``).

        With ``follow`` the call lasts until the cell exits (or ``on_data``
        raises), calling ``on_data`` with each chunk of text as it arrives.
        Returns all of the text.
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parts: List[str] = []
        path = self._path + "/logs" + ("?follow=1" if follow else "")
        with self._t.open("GET", path, timeout=None if follow else self._t.timeout) as s:
            while True:
                chunk = s.read_some()
                text = decoder.decode(chunk, final=not chunk)
                if text:
                    parts.append(text)
                    if on_data is not None:
                        on_data(text)
                if not chunk:
                    return "".join(parts)
