#!/usr/bin/env python3
"""A small "agent" hosted on brig, through the Python SDK (docs/sdk-python.md).

The host side of an agent framework: it makes a cell that may reach one site,
hands it a script (the code an agent wrote), runs it while printing its output
as it comes, reads back the file the script left, shows what warden saw, and
removes the cell. Needs a running API (brig system up):

    python3 docs/examples/sdk_agent.py            # BRIG_SDK_IMAGE picks the image
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Run from a checkout without installing the SDK (pip install src/sdk/python
# makes this line unnecessary).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "sdk" / "python"))

import brig  # noqa: E402

IMAGE = os.environ.get("BRIG_SDK_IMAGE", "localhost/brig-busybox:latest")

# What the agent runs in the cell. Its working directory is the workspace.
TASK = """\
#!/bin/sh
echo "counting words..."
printf 'the quick brown fox\\njumps over the lazy dog\\n' > input.txt
words=$(wc -w < input.txt)
sleep 1
echo "fetching an allowed page and a refused one (warden decides)..."
if wget -q -O page.html http://example.com/; then allowed=true; else allowed=false; fi
if wget -q -O /dev/null http://example.org/ 2>/dev/null; then refused=false; else refused=true; fi
echo "allowed fetch ok: $allowed; other site refused: $refused" >&2
printf '{"words": %s, "allowed_fetch": %s, "other_refused": %s}\\n' "$words" "$allowed" "$refused" > result.json
"""


def main() -> int:
    b = brig.Brig()
    try:
        # The cell only sleeps: the work is done by exec. Leaving the with
        # block removes it, whatever happened inside.
        with b.create(IMAGE, ["sleep", "600"], name=f"sdk-agent-{os.getpid()}",
                      allow=["example.com"], memory="512m") as cell:
            print(f"cell {cell.name}: {cell.state}, image {cell.image}")
            cell.write_file("task.sh", TASK)
            result = cell.exec(["sh", "task.sh"], timeout=120,
                               on_stdout=lambda text: print("  stdout|", text, end=""),
                               on_stderr=lambda text: print("  stderr|", text, end=""))
            print(f"task exited {result.exit_code}" + (" (timed out)" if result.timed_out else ""))
            if not result.ok:
                return 1
            print("result.json:", json.loads(cell.read_file("result.json")))
            for rec in cell.network():
                print(f"  warden| {rec.get('decision', '?'):5} {rec.get('method', '')} "
                      f"{rec.get('host', '')}{rec.get('path', '')} {rec.get('status', '')}")
    except brig.BrigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("cell removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
