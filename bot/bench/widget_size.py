"""`python -m bot.bench.widget_size`: what the website widget adds to a page, in bytes (raw and gzip -9).

The budget is 50 KB gzip for widget.js alone; the socket.io client (npm's socket.io-client, loaded by the
widget from the same server) is reported separately.
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Dict, Tuple

from bot.web.widget import SOCKET_IO_JS, WIDGET_JS

BUDGET_GZIP = 50 * 1024


def sizes() -> Dict[str, Tuple[int, int]]:
    """{file name: (bytes, gzip -9 bytes)} of the widget's script and, when installed, the socket.io client."""
    found: Dict[str, Tuple[int, int]] = {}
    for path in (WIDGET_JS, SOCKET_IO_JS):
        if Path(path).exists():
            raw = Path(path).read_bytes()
            found[Path(path).name] = (len(raw), len(gzip.compress(raw, compresslevel=9)))
    return found


def main() -> int:
    measured = sizes()
    for name, (raw, packed) in measured.items():
        print(f"{name:<20} {raw / 1024:7.1f} KB  {packed / 1024:6.1f} KB gzip")
    if "socket.io.min.js" not in measured:
        print("socket.io.min.js     not installed (make widget)")
    widget = measured["widget.js"][1]
    print(f"widget.js budget: {BUDGET_GZIP // 1024} KB gzip, {'within' if widget <= BUDGET_GZIP else 'OVER'}")
    return 0 if widget <= BUDGET_GZIP else 1


if __name__ == "__main__":
    sys.exit(main())
