"""HTTP/1.1 over brig's unix socket: one connection per request, errors as BrigError."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any, Dict, Iterator, Optional, Union

from ._errors import BrigError

_START_API = "brig system up (starts the API)"
_SEE_LOG = "see the API's log ($BRIG_HOME/logs/api.log); brig system doctor checks it"
# An error body is a small JSON object; more than this is not worth reading.
_ERROR_BODY_LIMIT = 1 << 20


def default_socket() -> str:
    """The API's socket: ``$BRIG_HOME/run/api.sock``, BRIG_HOME defaulting to ``~/.brig``."""
    home = os.environ.get("BRIG_HOME") or os.path.join(os.path.expanduser("~"), ".brig")
    return os.path.join(home, "run", "api.sock")


class UnixHTTPConnection(http.client.HTTPConnection):
    """An http.client connection whose transport is a unix socket.

    ``timeout`` (seconds, None for none) bounds the connect and each later
    read or write on the socket, not the whole exchange.
    """

    def __init__(self, path: str, timeout: Optional[float]) -> None:
        # The host only fills the Host header: the API is reached by path.
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


Body = Union[bytes, bytearray, memoryview]


class _Default:
    """The type of DEFAULT: "the transport's own timeout", as distinct from None (no timeout)."""


DEFAULT = _Default()
Timeout = Union[Optional[float], _Default]


class Stream:
    """An answer whose body is read as it arrives (NDJSON, SSE, logs).

    Reads turn socket and protocol failures into BrigError; close() (or
    leaving a ``with`` block) drops the connection, which tells the API the
    client has left.
    """

    def __init__(self, conn: UnixHTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp

    def readline(self) -> bytes:
        """The next line with its newline, or what is left at the end, or b"" at the end."""
        try:
            return self._resp.readline()
        except (OSError, http.client.HTTPException) as e:
            raise _broken(self._conn.socket_path, e) from e

    def read_some(self, limit: int = 65536) -> bytes:
        """Whatever has arrived (at least one byte, blocking until some has), or b"" at the end."""
        try:
            return self._resp.read1(limit)
        except (OSError, http.client.HTTPException) as e:
            raise _broken(self._conn.socket_path, e) from e

    def read_all(self) -> bytes:
        """The rest of the body."""
        try:
            return self._resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise _broken(self._conn.socket_path, e) from e

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Sends requests to one socket path; holds no connection, so threads may share it."""

    def __init__(self, socket_path: str, timeout: Optional[float]) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def open(self, method: str, path: str, *, json_body: Any = None, body: Optional[Body] = None,
             content_type: Optional[str] = None, timeout: Timeout = DEFAULT) -> Stream:
        """Sends a request and returns its answer once the status says success (2xx).

        ``json_body`` (any JSON value but None) or ``body`` (bytes) is the
        request body. ``timeout`` DEFAULT uses the transport's. A non-2xx
        answer raises BrigError with the API's ``error`` and ``fix``.
        """
        # One connection per request: the server need not wait for another.
        headers: Dict[str, str] = {"Accept": "application/json", "User-Agent": "brig-python", "Connection": "close"}
        payload: Optional[Body] = body
        if json_body is not None:
            payload = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        conn = UnixHTTPConnection(self.socket_path, self.timeout if isinstance(timeout, _Default) else timeout)
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise _unreachable(self.socket_path, e) from e
        try:
            # http.client sends Content-Length for a body (0 for an empty POST).
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            if not 200 <= resp.status < 300:
                raise _error_from(resp.status, resp.reason, resp.read(_ERROR_BODY_LIMIT))
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise _broken(self.socket_path, e) from e
        except BaseException:
            conn.close()
            raise
        return Stream(conn, resp)

    def call(self, method: str, path: str, *, json_body: Any = None, body: Optional[Body] = None,
             content_type: Optional[str] = None) -> Any:
        """A request whose answer is one JSON value."""
        with self.open(method, path, json_body=json_body, body=body, content_type=content_type) as s:
            return parse_json(s.read_all(), f"{method} {path}")

    def raw(self, method: str, path: str) -> bytes:
        """A request whose answer is bytes."""
        with self.open(method, path) as s:
            return s.read_all()


def ndjson(s: Stream, what: str) -> Iterator[Any]:
    """The JSON values of an NDJSON body, one per line, as each line arrives."""
    while True:
        line = s.readline()
        if not line:
            return
        if line.strip():
            yield parse_json(line, what)


def parse_json(data: bytes, what: str) -> Any:
    """Parses JSON from the API; an answer that is not JSON is a BrigError (status None)."""
    try:
        return json.loads(data)
    except ValueError as e:
        snippet = data[:200].decode("utf-8", "replace")
        raise BrigError(f"{what}: the API answered with invalid JSON ({e}): {snippet!r}", fix=_SEE_LOG) from e


def _error_from(status: int, reason: str, body: bytes) -> BrigError:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        fix = doc.get("fix")
        return BrigError(doc["error"], fix=fix if isinstance(fix, str) else None, status=status)
    text = body.decode("utf-8", "replace").strip()[:500]
    return BrigError(f"{status} {reason}" + (f": {text}" if text else ""), status=status)


def _unreachable(path: str, e: OSError) -> BrigError:
    reason = e.strerror or str(e)
    if isinstance(e, PermissionError):
        return BrigError(f"cannot connect to brig's API at {path}: {reason}",
                         fix="run as the user who runs brig: the socket is mode 0600")
    if isinstance(e, (FileNotFoundError, ConnectionRefusedError)):
        return BrigError(f"brig's API is not running: {path}: {reason}", fix=_START_API)
    return BrigError(f"cannot connect to brig's API at {path}: {reason}", fix=_START_API)


def _broken(path: str, e: BaseException) -> BrigError:
    if isinstance(e, socket.timeout):
        return BrigError(f"brig's API at {path} did not answer in time",
                         fix="give a longer timeout (Brig(timeout=...), or the call's own); " + _SEE_LOG)
    return BrigError(f"the connection to brig's API at {path} failed: {e!r}", fix=_SEE_LOG)
