"""brig's Python SDK: drive brig cells from code through brig's API.

    import brig
    b = brig.Brig()                      # $BRIG_HOME/run/api.sock
    r = b.run("localhost/brig-busybox:latest", ["echo", "hi"])
    print(r.exit_code, r.stdout)

Standard library only. The guide is docs/sdk-python.md; the API it speaks,
docs/reference/api.md.
"""

from ._cell import Cell, Result
from ._client import Brig
from ._errors import BrigError
from ._transport import default_socket

__all__ = ["Brig", "BrigError", "Cell", "Result", "default_socket"]
__version__ = "0.1.0"
