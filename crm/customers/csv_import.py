"""Importing checked CSV rows into the ledger, a batch at a time. Services flush; the request or the job commits.

An existing customer is found only by the key the owner chose (phone or email) and
is changed only in the mode the owner chose (skip or update); a row whose key
matches two customers is reported, never resolved by guessing.

A batch costs a fixed handful of statements whatever its size: one query finds the
batch's customers by key, one loads those to update, one executemany updates them,
one inserts the new ones (crm.database.insert_returning_ids), one attaches tags.  No
ORM objects are made for the rows, and memory holds one batch, not the file.
"""
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm.customers import tags as tag_service
from crm.customers.csv_io import ParsedRow, data_rows, parse_row
from crm.customers.models import Customer, CustomerTag, match_keys
from crm.customers.services import phone_columns
from crm.database import insert_returning_ids, utcnow
from crm.extensions import db

KEYS = ("phone", "email")
MODES = ("skip", "update")
BATCH = 1000

_TEXT = ("family_name", "given_name", "family_name_kana", "given_name_kana", "memo")  # "" when empty
_NULLABLE = ("email", "birthday")  # NULL when empty
_LOADED = _TEXT + _NULLABLE + ("phone", "phone_e164", "phone_national", "phone_national_reversed")
_CUSTOMERS = Customer.__table__
# SET columns come from the parameters' keys; b_id is the row's id.
_UPDATE = sa.update(_CUSTOMERS).where(_CUSTOMERS.c.id == sa.bindparam("b_id"))


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list = field(default_factory=list)  # (row number, [reasons])

    def skip(self, number: int, reasons: Iterable) -> None:
        self.skipped.append((number, [str(r) for r in reasons]))


def _key_of(row: ParsedRow, key: str) -> str | None:
    if key == "phone":
        return row.phone.e164 if row.phone else None
    return row.values["email"].lower() if row.values["email"] else None


def _key_label(key: str):
    return _l("電話番号") if key == "phone" else _l("メールアドレス")


def _existing(shop_id: int, key: str, values: set[str]) -> dict[str, list[int]]:
    """key value → ids of the shop's customers with it."""
    if not values:
        return {}
    column = Customer.phone_e164 if key == "phone" else sa.func.lower(Customer.email)
    found: dict[str, list[int]] = {}
    for customer_id, value in db.session.execute(
        sa.select(Customer.id, column).where(Customer.shop_id == shop_id, column.in_(values)).order_by(Customer.id)
    ):
        found.setdefault(value, []).append(customer_id)
    return found


def _apply(columns: dict, row: ParsedRow, only_filled: bool) -> dict:
    # On update an empty cell keeps what the ledger has: a sparse CSV never erases data.
    values = row.values
    for name in _TEXT:
        if values[name] or not only_filled:
            columns[name] = values[name] or ""
    for name in _NULLABLE:
        if values[name] or not only_filled:
            columns[name] = values[name]
    if row.phone or not only_filled:
        columns.update(phone_columns(values["phone"], row.phone))
    return columns


def _merged(columns: dict, rows: list[ParsedRow], only_filled: bool) -> tuple[dict, list[str]]:
    """The columns after each row in turn (the first one whole when not only_filled), and the rows' tags."""
    names: list[str] = []
    for index, row in enumerate(rows):
        _apply(columns, row, only_filled or index > 0)
        names.extend(n for n in row.tags if n not in names)
    columns.update(match_keys(columns["family_name"], columns["given_name"], columns["family_name_kana"],
                              columns["given_name_kana"]))
    return columns, names


def _plan(shop_id, parsed, key, mode, report):
    """What each row does: [rows] of each new customer (later rows of the same key update it), and id → rows."""
    existing = _existing(shop_id, key, {k for row in parsed if row.ok and (k := _key_of(row, key))})
    new: list[list[ParsedRow]] = []
    new_by_key: dict[str, int] = {}
    updates: dict[int, list[ParsedRow]] = {}
    for row in parsed:
        if not row.ok:
            report.skip(row.number, row.errors)
            continue
        k = _key_of(row, key)
        ids = existing.get(k) if k else None
        if ids and len(ids) > 1:
            report.skip(row.number, [_l("この%(key)sの顧客が複数います。台帳で統合してから取り込んでください。",
                                         key=_key_label(key))])
        elif ids or (k and k in new_by_key):
            if mode == "skip":
                report.skip(row.number, [_l("登録済みのためスキップしました（%(key)sが一致）。", key=_key_label(key))])
                continue
            if ids:
                updates.setdefault(ids[0], []).append(row)
            else:  # a row earlier in this batch made the customer
                new[new_by_key[k]].append(row)
            report.updated += 1
        else:
            if k:
                new_by_key[k] = len(new)
            new.append([row])
            report.created += 1
    return new, updates


def _attach_tags(shop_id: int, tagged: list[tuple[int, list[str]]], cache: dict, updated_ids: set[int]) -> None:
    tagged = [(customer_id, names) for customer_id, names in tagged if names]
    if not tagged:
        return
    have = set()
    if ids := updated_ids.intersection(customer_id for customer_id, _names in tagged):
        have = set(db.session.execute(
            sa.select(CustomerTag.customer_id, CustomerTag.tag_id).where(CustomerTag.customer_id.in_(ids))
        ).tuples())
    rows = []
    for customer_id, names in tagged:
        for tag in tag_service.get_or_create_tags(shop_id, names, cache):
            if (customer_id, tag.id) not in have:
                have.add((customer_id, tag.id))
                rows.append({"customer_id": customer_id, "tag_id": tag.id, "shop_id": shop_id})
    if rows:
        db.session.execute(sa.insert(CustomerTag.__table__), rows)


def _import_batch(shop_id, parsed, key, mode, report, cache):
    new, updates = _plan(shop_id, parsed, key, mode, report)
    now = utcnow()
    tagged: list[tuple[int, list[str]]] = []
    if updates:
        current = db.session.execute(
            sa.select(_CUSTOMERS.c.id, *(_CUSTOMERS.c[name] for name in _LOADED))
            .where(_CUSTOMERS.c.id.in_(updates))
        ).mappings()
        params = []
        for loaded in current:
            columns, names = _merged({name: loaded[name] for name in _LOADED}, updates[loaded["id"]], True)
            params.append({"b_id": loaded["id"], **columns, "updated_at": now})
            tagged.append((loaded["id"], names))
        db.session.execute(_UPDATE, params)
    if new:
        rows, names_of = [], []
        for group in new:
            columns, names = _merged({}, group, False)
            rows.append({"shop_id": shop_id, **columns, "broadcast_opt_out": False, "created_at": now,
                         "updated_at": now})
            names_of.append(names)
        tagged.extend(zip(insert_returning_ids(_CUSTOMERS, rows), names_of, strict=True))
    _attach_tags(shop_id, tagged, cache, set(updates))


def import_rows(shop_id: int, rows: Iterable[tuple[int, list[str]]], mapping: dict, key: str, mode: str,
                region: str, today: date, report: ImportReport | None = None,
                cache: dict | None = None) -> ImportReport:
    """Check and import (row number, cells) pairs a batch at a time; rows with errors, and existing
    customers in skip mode, are reported."""
    if key not in KEYS or mode not in MODES:
        raise ValueError("unknown key or mode")
    report = report if report is not None else ImportReport()
    cache = cache if cache is not None else {t.name: t for t in tag_service.shop_tags(shop_id)}
    batch = []
    for number, cells in rows:
        batch.append(parse_row(number, cells, mapping, region, today))
        if len(batch) >= BATCH:
            _import_batch(shop_id, batch, key, mode, report, cache)
            batch = []
    if batch:
        _import_batch(shop_id, batch, key, mode, report, cache)
    return report


def run_import(shop_id: int, data: bytes, encoding: str, mapping: dict, key: str, mode: str,
               region: str, today: date) -> ImportReport:
    """Import every row of a whole file at once."""
    return import_rows(shop_id, data_rows(data, encoding), mapping, key, mode, region, today)


def preview(shop_id: int, rows: Iterable[tuple[int, list[str]]], mapping: dict, key: str, mode: str,
            region: str, today: date, limit: int = 20) -> list[tuple[ParsedRow, str]]:
    """The first rows as they would be imported: (row, what happens: new / update / skip / error)."""
    parsed = []
    for number, cells in rows:
        parsed.append(parse_row(number, cells, mapping, region, today))
        if len(parsed) >= limit:
            break
    existing = _existing(shop_id, key, {k for row in parsed if row.ok and (k := _key_of(row, key))})
    result, seen = [], set()
    for row in parsed:
        k = _key_of(row, key) if row.ok else None
        if not row.ok:
            outcome = "error"
        elif k and (k in existing or k in seen):
            outcome = "update" if mode == "update" else "skip"
        else:
            outcome = "new"
        if k:
            seen.add(k)
        result.append((row, outcome))
    return result
