"""Shop-wide tags (タグ) on customers. Services flush; requests commit.

Other domains (the LINE inbox, broadcasts) read tags through tags_for_customers,
one query for any number of customers.
"""
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm import signals
from crm.customers.models import Customer, CustomerTag, Tag
from crm.extensions import db

# key -> label. Each key is a CSS class (tag-<key>) whose text and background pass
# WCAG AA (4.5:1) on both sides; colours live in app.css because the CSP allows no inline style.
PALETTE = {
    "gray": _l("グレー"),
    "red": _l("赤"),
    "orange": _l("オレンジ"),
    "yellow": _l("黄"),
    "green": _l("緑"),
    "teal": _l("青緑"),
    "blue": _l("青"),
    "purple": _l("紫"),
    "pink": _l("ピンク"),
}
DEFAULT_COLOUR = "gray"
NAME_MAX = 30
# Separators of a タグ cell in a CSV: comma, 読点 and their full-width forms.
_SEPARATORS = re.compile(r"[,、，､;；]")


def clean_name(name: str | None) -> str:
    """A tag name as stored: NFKC, inner runs of spaces kept as one, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", name or "").split())


def split_names(cell: str | None) -> list[str]:
    """Tag names of a 「VIP、カラー」 cell, cleaned, empty ones and repeats dropped."""
    names = []
    for part in _SEPARATORS.split(cell or ""):
        name = clean_name(part)
        if name and name not in names:
            names.append(name)
    return names


def shop_tags(shop_id: int) -> list[Tag]:
    """The shop's tags in name order."""
    return list(db.session.scalars(sa.select(Tag).where(Tag.shop_id == shop_id).order_by(Tag.name, Tag.id)))


def find_by_name(shop_id: int, name: str) -> Tag | None:
    """The shop's tag of that name (after cleaning), if any."""
    return db.session.scalars(sa.select(Tag).where(Tag.shop_id == shop_id, Tag.name == clean_name(name))).first()


def create_tag(shop_id: int, name: str, colour: str = DEFAULT_COLOUR) -> Tag:
    """A new tag; the caller checked that the name is free."""
    tag = Tag(shop_id=shop_id, name=clean_name(name), colour=colour if colour in PALETTE else DEFAULT_COLOUR)
    db.session.add(tag)
    db.session.flush()
    return tag


def get_or_create_tags(shop_id: int, names: Iterable[str], existing: dict[str, Tag] | None = None) -> list[Tag]:
    """Tags of these names, created (grey) where the shop has none; `existing` is a name → tag cache to reuse."""
    cache = existing if existing is not None else {t.name: t for t in shop_tags(shop_id)}
    tags = []
    for name in names:
        name = clean_name(name)
        if not name:
            continue
        tag = cache.get(name)
        if tag is None:
            tag = cache[name] = create_tag(shop_id, name)
        tags.append(tag)
    return tags


def update_tag(tag: Tag, name: str, colour: str) -> Tag:
    """Rename and recolour a tag."""
    tag.name = clean_name(name)
    if colour in PALETTE:
        tag.colour = colour
    db.session.flush()
    return tag


def delete_tag(tag: Tag) -> None:
    """Delete a tag and take it off every customer."""
    db.session.execute(sa.delete(CustomerTag).where(CustomerTag.tag_id == tag.id, CustomerTag.shop_id == tag.shop_id))
    db.session.delete(tag)
    db.session.flush()


def add_tags(customer: Customer, tags: Iterable[Tag]) -> None:
    """Put tags on a customer; tags it already has stay once."""
    have = {row for row in db.session.scalars(
        sa.select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer.id)
    )}
    for tag in tags:
        if tag.shop_id != customer.shop_id:
            raise ValueError("a tag of another shop")  # views load both through the tenant guard
        if tag.id not in have:
            db.session.add(CustomerTag(customer_id=customer.id, tag_id=tag.id, shop_id=customer.shop_id))
            have.add(tag.id)
    db.session.flush()


def remove_tag(customer: Customer, tag: Tag) -> None:
    """Take a tag off a customer (nothing happens if it was not on)."""
    db.session.execute(sa.delete(CustomerTag).where(
        CustomerTag.customer_id == customer.id, CustomerTag.tag_id == tag.id, CustomerTag.shop_id == customer.shop_id
    ))
    db.session.flush()


def tags_for_customers(shop_id: int, customer_ids: Iterable[int]) -> dict[int, list[Tag]]:
    """customer id → its tags in name order, in one query (customers without tags are absent)."""
    ids = list({int(i) for i in customer_ids})
    result: dict[int, list[Tag]] = defaultdict(list)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(CustomerTag.customer_id, Tag)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.shop_id == shop_id, Tag.shop_id == shop_id, CustomerTag.customer_id.in_(ids))
        .order_by(Tag.name, Tag.id)
    )
    for customer_id, tag in rows:
        result[customer_id].append(tag)
    return dict(result)


def tag_usage(shop_id: int) -> dict[int, int]:
    """tag id → how many customers carry it."""
    rows = db.session.execute(
        sa.select(CustomerTag.tag_id, sa.func.count())
        .where(CustomerTag.shop_id == shop_id)
        .group_by(CustomerTag.tag_id)
    ).all()
    return {tag_id: count for tag_id, count in rows}


def has_tag_condition(shop_id: int, tag_id: int):
    """WHERE clause: the customer carries this tag."""
    return Customer.id.in_(
        sa.select(CustomerTag.customer_id).where(CustomerTag.shop_id == shop_id, CustomerTag.tag_id == tag_id)
    )


@signals.customers_merging.connect
def move_tags(keep: Customer, remove: Customer, **_: object) -> None:
    """On a merge: `keep` gets every tag of `remove` (once); 配信停止 of either stays (the customer asked)."""
    have = set(db.session.scalars(sa.select(CustomerTag.tag_id).where(CustomerTag.customer_id == keep.id)))
    moving = [t for t in db.session.scalars(
        sa.select(CustomerTag.tag_id).where(CustomerTag.customer_id == remove.id)
    ) if t not in have]
    if moving:
        db.session.execute(sa.insert(CustomerTag), [
            {"customer_id": keep.id, "tag_id": tag_id, "shop_id": keep.shop_id} for tag_id in moving
        ])
    if remove.broadcast_opt_out and not keep.broadcast_opt_out:
        keep.broadcast_opt_out, keep.broadcast_opt_out_at = True, remove.broadcast_opt_out_at
    db.session.flush()
