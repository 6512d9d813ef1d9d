"""Importing checked CSV rows into the ledger, in batches. Services flush; the request commits.

An existing customer is found only by the key the owner chose (phone or email) and
is changed only in the mode the owner chose (skip or update); a row whose key
matches two customers is reported, never resolved by guessing.
"""
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm.customers import tags as tag_service
from crm.customers.csv_io import ParsedRow, data_rows, parse_row
from crm.customers.models import Customer, CustomerTag
from crm.customers.services import set_phone
from crm.extensions import db

KEYS = ("phone", "email")
MODES = ("skip", "update")
BATCH = 500


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


def _apply(customer: Customer, row: ParsedRow, only_filled: bool) -> None:
    # On update an empty cell keeps what the ledger has: a sparse CSV never erases data.
    values = row.values
    for name in ("family_name", "given_name", "family_name_kana", "given_name_kana", "memo"):
        if values[name] or not only_filled:
            setattr(customer, name, values[name] or "")
    for name in ("email", "birthday"):  # NULL when empty
        if values[name] or not only_filled:
            setattr(customer, name, values[name])
    if row.phone or not only_filled:
        set_phone(customer, values["phone"], row.phone)
    customer.refresh_match_keys()


def _attach_tags(shop_id: int, pairs: list[tuple[Customer, list[str]]], cache: dict, updated_ids: set[int]) -> None:
    pairs = [(c, names) for c, names in pairs if names]
    if not pairs:
        return
    have = set()
    if updated_ids:
        have = set(db.session.execute(
            sa.select(CustomerTag.customer_id, CustomerTag.tag_id).where(CustomerTag.customer_id.in_(updated_ids))
        ).tuples())
    rows = []
    for customer, names in pairs:
        for tag in tag_service.get_or_create_tags(shop_id, names, cache):
            if (customer.id, tag.id) not in have:
                have.add((customer.id, tag.id))
                rows.append({"customer_id": customer.id, "tag_id": tag.id, "shop_id": shop_id})
    if rows:
        db.session.execute(sa.insert(CustomerTag), rows)


def _import_batch(shop_id, parsed, key, mode, report, seen, cache):
    keys = {k for row in parsed if row.ok and (k := _key_of(row, key)) and k not in seen}
    existing = _existing(shop_id, key, keys)
    to_update = {i for row in parsed if row.ok and (ids := existing.get(_key_of(row, key) or "")) and len(ids) == 1
                 for i in ids}
    loaded = {c.id: c for c in db.session.scalars(sa.select(Customer).where(Customer.id.in_(to_update)))} if (
        to_update and mode == "update") else {}
    pairs, touched = [], set()
    for row in parsed:
        if not row.ok:
            report.skip(row.number, row.errors)
            continue
        k = _key_of(row, key)
        matches = (seen.get(k) or existing.get(k)) if k else None
        if matches and len(matches) > 1:
            report.skip(row.number, [_l("この%(key)sの顧客が複数います。台帳で統合してから取り込んでください。",
                                         key=_l("電話番号") if key == "phone" else _l("メールアドレス"))])
            continue
        if matches and mode == "skip":
            report.skip(row.number, [_l("登録済みのためスキップしました（%(key)sが一致）。",
                                         key=_l("電話番号") if key == "phone" else _l("メールアドレス"))])
            continue
        if matches:
            target = matches[0]  # a customer of this batch, or an id
            customer = target if isinstance(target, Customer) else (loaded.get(target) or db.session.get(Customer, target))
            _apply(customer, row, only_filled=True)
            touched.add(customer.id)
            report.updated += 1
        else:
            customer = Customer(shop_id=shop_id)
            _apply(customer, row, only_filled=False)
            db.session.add(customer)
            report.created += 1
        pairs.append((customer, row.tags))
        if k:
            seen[k] = [customer]  # filled with the id after the flush
    db.session.flush()
    for k, value in seen.items():
        if value and isinstance(value[0], Customer):
            seen[k] = [value[0].id]
    _attach_tags(shop_id, pairs, cache, touched)
    db.session.flush()
    for customer in {id(c): c for c, _names in pairs}.values():
        db.session.expunge(customer)  # a 20,000-row file does not keep 20,000 objects in the session


def run_import(shop_id: int, data: bytes, encoding: str, mapping: dict, key: str, mode: str,
               region: str, today: date) -> ImportReport:
    """Import every row; rows with errors, and existing customers in skip mode, are reported."""
    if key not in KEYS or mode not in MODES:
        raise ValueError("unknown key or mode")
    report = ImportReport()
    seen: dict[str, list] = {}
    cache = {t.name: t for t in tag_service.shop_tags(shop_id)}
    batch = []
    for number, cells in data_rows(data, encoding):
        batch.append(parse_row(number, cells, mapping, region, today))
        if len(batch) >= BATCH:
            _import_batch(shop_id, batch, key, mode, report, seen, cache)
            batch = []
    if batch:
        _import_batch(shop_id, batch, key, mode, report, seen, cache)
    return report


def preview(shop_id: int, data: bytes, encoding: str, mapping: dict, key: str, mode: str,
            region: str, today: date, limit: int = 20) -> list[tuple[ParsedRow, str]]:
    """The first rows as they would be imported: (row, what happens: new / update / skip / error)."""
    rows = []
    for number, cells in data_rows(data, encoding):
        rows.append(parse_row(number, cells, mapping, region, today))
        if len(rows) >= limit:
            break
    existing = _existing(shop_id, key, {k for row in rows if row.ok and (k := _key_of(row, key))})
    result, seen = [], set()
    for row in rows:
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
