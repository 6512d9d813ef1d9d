"""The stickers LINE lets bots send: read from the app's shipped list (crm/line_tab/data/stickers.json).

The sandbox refuses others as LINE does, and labels sent stickers on the phone page.
Without that file (the sandbox used alone) every sticker is accepted.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LIST = Path(__file__).resolve().parent.parent / "crm" / "line_tab" / "data" / "stickers.json"


@lru_cache(maxsize=1)
def _load() -> dict:
    try:
        raw = json.loads(LIST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {(p["packageId"], s["id"]): s.get("label") for p in raw["packages"] for s in p["stickers"]}


def sendable_stickers() -> dict:
    """{(package id, sticker id): label or None}; empty when the list is not there."""
    return _load()


def label(package_id: str, sticker_id: str) -> str:
    known = _load().get((str(package_id), str(sticker_id)))
    return known or f"スタンプ {package_id}-{sticker_id}"
