"""Write the API's OpenAPI document to docs/openapi.json (`python -m bot.web.openapi`); a test keeps the two equal."""
from __future__ import annotations

import json
import sys

from bot.settings import PROJECT_ROOT

DOCUMENT = PROJECT_ROOT / "docs" / "openapi.json"


def render() -> str:
    from bot.web.app import api_document

    return json.dumps(api_document(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
