"""Fixtures of the knowledge-base tests: a deterministic fake embedder and article folders."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pytest


class FakeEmbedder:
    """An `Embedder` whose vectors are seeded from the SHA-256 of the text, L2-normalised.

    Same text, same vector (cosine 1); different texts are near-orthogonal random vectors.
    No meaning at all, which is the point: unit tests exercise the plumbing, the lexical
    signal and the thresholds without loading a model. `texts` records every text embedded.
    """

    def __init__(self, name: str = "fake-sha256", dimension: int = 384) -> None:
        self.name = name
        self.dimension = dimension
        self.calls: List[List[str]] = []

    @property
    def texts(self) -> List[str]:
        return [text for call in self.calls for text in call]

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vector(text) for text in texts])


def article_text(
    article_id: str,
    title: str = "",
    body: str = "Some helpful text about the topic.",
    status: str = "published",
    category: str = "ordering",
    tags: str = "[help]",
    extra: str = "",
) -> str:
    title = title or article_id.replace("-", " ").capitalize()
    front = textwrap.dedent(
        f"""\
        ---
        id: {article_id}
        title: {title}
        category: {category}
        tags: {tags}
        status: {status}
        updated: 2026-08-18
        url: https://help.example/articles/{article_id}
        """
    )
    return front + extra + "---\n" + textwrap.dedent(body).strip() + "\n"


def write_article(folder: Path, article_id: str, **fields) -> Path:
    path = folder / f"{article_id}.md"
    path.write_text(article_text(article_id, **fields), encoding="utf-8")
    return path


SAMPLE: Dict[str, Dict[str, str]] = {
    "reset-pulse-700": {
        "title": "Restart or reset Pulse 700 Wireless Headphones",
        "tags": "[pulse 700, reset]",
        "body": """
            A restart fixes most glitches and keeps your settings.

            ## Factory reset
            1. Turn the headphones on.
            2. Press and hold **Power** and **ANC** for 10 seconds.
            3. [Pair the headphones again](pair-headphones.md).
            """,
    },
    "pair-headphones": {
        "title": "Pair your headphones and earbuds",
        "tags": "[pairing, bluetooth]",
        "body": """
            Put the headphones in pairing mode and pick them in your phone's Bluetooth list.

            ## Pairing mode
            Hold the Power button for 5 seconds until the LED flashes blue.
            """,
    },
    "camera-offline": {
        "title": "Camera offline or won't connect",
        "tags": "[camera, e12, e31]",
        "body": """
            If the app shows your camera as offline, the error code tells you what to fix.

            ## Error codes
            | Code | Meaning | What to do |
            |---|---|---|
            | E12 | Password rejected | Re-enter the Wi-Fi password. |
            | E31 | Cannot reach our servers | Restart your router and turn off the VPN. |
            """,
    },
    "returns-policy": {
        "title": "Our returns policy",
        "tags": "[returns]",
        "body": """
            You can return most items within 30 days of delivery, for free.

            ## What you can return
            Opened items are fine, as long as everything that came in the box is included.
            """,
    },
    "holiday-returns": {
        "title": "Holiday returns",
        "status": "draft",
        "tags": "[returns, holidays]",
        "body": "Items delivered in December can be returned until January 31.",
    },
}


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for article_id, fields in SAMPLE.items():
        write_article(folder, article_id, **fields)
    return folder
