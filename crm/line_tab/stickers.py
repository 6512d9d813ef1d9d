"""LINE's stickers that a bot may send (data/stickers.json, with its source), for the composer's picker.

Tiles are labels only: no image is loaded from LINE's CDN (the CSP forbids it, and the
ledger must not tell LINE who looks at which conversation).
"""
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _

from crm.errors import UserError

DATA = Path(__file__).resolve().parent / "data" / "stickers.json"


class UnknownSticker(UserError, ValueError):
    """A package/sticker id that LINE does not let bots send."""


@dataclass(frozen=True)
class Sticker:
    package_id: str
    sticker_id: str
    label: str | None

    @property
    def title(self) -> str:
        """「OK」 where known, else 「スタンプ 446-1988」."""
        return self.label or _("スタンプ %(package)s-%(sticker)s", package=self.package_id, sticker=self.sticker_id)


@dataclass(frozen=True)
class Package:
    package_id: str
    title: str | None
    stickers: tuple


@lru_cache(maxsize=1)
def catalog() -> dict:
    """The shipped list: source URL, date and packages (read once)."""
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    packages = tuple(
        Package(p["packageId"], (p.get("title") or {}).get("ja"),
                tuple(Sticker(p["packageId"], s["id"], s.get("label")) for s in p["stickers"]))
        for p in raw["packages"]
    )
    index = {(s.package_id, s.sticker_id): s for p in packages for s in p.stickers}
    return {"source": raw["source"], "retrieved": raw["retrieved"], "packages": packages, "index": index}


def packages() -> tuple:
    return catalog()["packages"]


def find(package_id: str, sticker_id: str) -> Sticker | None:
    """The sticker, or None when it is not in LINE's list."""
    return catalog()["index"].get((str(package_id or ""), str(sticker_id or "")))


def checked(package_id: str, sticker_id: str) -> Sticker:
    """The sticker, or UnknownSticker: LINE answers 400 for any other."""
    sticker = find(package_id, sticker_id)
    if sticker is None:
        raise UnknownSticker(_("このスタンプは送信できません（LINEが送信を認めているスタンプのみ送れます）。"))
    return sticker
