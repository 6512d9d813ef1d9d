"""The ledger as CSV (UTF-8 with BOM, or CP932) or Excel: the columns the import reads back."""
import csv
import io
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm.customers.csv_io import FIELD_LABELS, FIELDS
from crm.customers.models import Customer
from crm.customers.tags import tags_for_customers
from crm.extensions import db

BATCH = 1000
ENCODINGS = ("utf-8", "cp932")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text a spreadsheet must not run: 「=HYPERLINK(...)」 stays text (CSV injection); the import undoes the quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def headers() -> list[str]:
    """Column titles (in the user's language; the import recognises both)."""
    return [str(FIELD_LABELS[name]) for name in FIELDS]


def rows(shop_id: int) -> Iterator[list]:
    """One list per customer in registration order, read in batches with their tags (one query per batch)."""
    last = None
    while True:
        stmt = sa.select(Customer).where(Customer.shop_id == shop_id).order_by(Customer.id).limit(BATCH)
        if last is not None:
            stmt = stmt.where(Customer.id > last)
        batch = db.session.scalars(stmt).all()
        if not batch:
            return
        tags = tags_for_customers(shop_id, [c.id for c in batch])
        for c in batch:
            yield [_cell(v) for v in (
                c.full_name, c.full_name_kana, c.phone or "", c.email or "",
                c.birthday.strftime("%Y/%m/%d") if c.birthday else "",
                "、".join(t.name for t in tags.get(c.id, [])), c.memo or "",
            )]
        last = batch[-1].id
        for c in batch:
            db.session.expunge(c)


def csv_chunks(shop_id: int, encoding: str = "utf-8") -> Iterator[bytes]:
    """The CSV as bytes in chunks; UTF-8 starts with a BOM so Excel reads the Japanese.

    The header is translated here, while the request is handled: a streamed body is read after the
    request's transaction has ended, when the signed-in user (whose language it is) can no longer be loaded.
    """
    return _chunks(shop_id, "utf-8" if encoding not in ENCODINGS else encoding, headers())


def _chunks(shop_id: int, codec: str, header: list[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if codec == "utf-8":
        buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows(shop_id), start=1):
        writer.writerow(row)
        if count % BATCH == 0:
            # CP932 has no emoji or some rare kanji: they become 「?」 (the page says so).
            yield buffer.getvalue().encode(codec, errors="replace")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode(codec, errors="replace")


def xlsx_bytes(shop_id: int) -> bytes:
    """An Excel workbook (openpyxl, write-only so memory stays flat)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("顧客台帳")
    sheet.append(headers())
    for row in rows(shop_id):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def skipped_csv_header() -> list[str]:
    """The titles of the skipped rows' CSV, in the user's language (taken before the response streams)."""
    return [str(_l("行")), str(_l("理由"))]


def skipped_csv_chunks(header: list[str], pages: Iterable[list[tuple[int, list[str]]]]) -> Iterator[bytes]:
    """An import's skipped rows as CSV (UTF-8 with BOM): 行, 理由; one chunk per page of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header)
    for page in pages:
        for number, reasons in page:
            writer.writerow([number, _cell(" ".join(reasons))])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
