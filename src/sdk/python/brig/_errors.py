"""The one exception the SDK raises for anything the API or the socket refuses."""

from __future__ import annotations

from typing import Optional


class BrigError(Exception):
    """An error from brig's API, or from reaching it.

    Attributes:
        message: what happened (the API's ``error``; for an invalid spec, the
            ``origin: field: message`` lines the CLI prints, joined by newlines).
        fix: how to fix it (the API's ``fix``), or None when it gave none.
        status: the HTTP status (400, 404, 409, 500, ...), or None when there
            was no HTTP answer to judge: the socket could not be reached, the
            connection broke, or the answer was not what the API promises.
    """

    def __init__(self, message: str, fix: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.fix: Optional[str] = fix or None
        self.status: Optional[int] = status

    def __str__(self) -> str:
        text = self.message if self.status is None else f"{self.message} (HTTP {self.status})"
        return f"{text}\nfix: {self.fix}" if self.fix else text

    def __repr__(self) -> str:
        return f"BrigError({self.message!r}, fix={self.fix!r}, status={self.status!r})"
