"""The customer CSV import as jobs: a chunk of rows per job, each one commit, resumed from the last commit.

「取り込む」 stores the owner's mapping, key and mode on the CustomerImport row and
queues the first chunk (start); no request imports rows.  Each chunk job
(import_chunk) reads WINDOW_BYTES of the kept file from the row's byte_offset
(never the whole file: memory stays flat whatever its size), imports up to
CHUNK_ROWS rows of it in batches (csv_import.import_rows), and in the same commit
writes their skipped rows, adds the counts, moves byte_offset/next_row past them
and queues the next chunk.  A chunk lost with its worker rolls back whole; the
page that polls the progress queues it again once the row has not moved for
STALLED (resume_stalled).  A chunk whose offset is no longer the row's ran
already and does nothing, so a chunk queued twice imports its rows once.
"""
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from crm import jobs
from crm.customers import csv_import, csv_io
from crm.customers.models import CustomerImport, CustomerImportSkip, ImportStatus
from crm.database import utcnow
from crm.extensions import db
from crm.shops.models import Shop
from crm.staff.models import Staff

log = logging.getLogger(__name__)
CHUNK_ROWS = 5000
STALLED = timedelta(minutes=2)
PREVIEW_BYTES = 1024 * 1024  # the mapping page reads at most this much of the file
WINDOW_BYTES = 512 * 1024  # a chunk reads this much of the file (more if one record is longer)
SKIPS_SHOWN = 1000  # skipped rows listed on the report page; all of them are in its CSV


def _whole_lines(prefix: bytes, whole_length: int) -> int:
    """How much of a file's first bytes is whole lines: all of it if it is the whole file."""
    if len(prefix) >= whole_length:
        return len(prefix)
    return max(prefix.rfind(b"\n"), prefix.rfind(b"\r")) + 1


def file_start(kept: CustomerImport) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and the first data rows, read from the file's first PREVIEW_BYTES only."""
    prefix, length = db.session.execute(
        sa.select(sa.func.substr(CustomerImport.data, 1, PREVIEW_BYTES, type_=sa.LargeBinary),
                  sa.func.length(CustomerImport.data)).where(CustomerImport.id == kept.id)
    ).one()
    end = _whole_lines(prefix, length)
    records = csv_io.records_from(prefix, kept.encoding, 1, end=end)
    header = next(records, (1, [], 0))[1]
    rows = ((n, cells) for n, cells, stop in records if any(c.strip() for c in cells) and (stop < end or end == length))
    return header, rows


def start(kept: CustomerImport, mapping: dict, key: str, mode: str) -> bool:
    """Queue the import of an uploaded file with the owner's choices; False if it was started already."""
    if kept.status != ImportStatus.UPLOADED:
        return False
    kept.mapping, kept.match_key, kept.mode = mapping, key, mode
    kept.status, kept.byte_offset, kept.next_row = ImportStatus.QUEUED, 0, 1
    db.session.flush()
    jobs.enqueue_after_commit(import_chunk, kept.id, 0)
    return True


def resume_stalled(kept: CustomerImport) -> bool:
    """Queue the next chunk again if the import has not moved for STALLED (its job was lost); True if queued."""
    if not kept.in_progress or kept.updated_at > utcnow() - STALLED:
        return False
    kept.updated_at = utcnow()
    jobs.enqueue_after_commit(import_chunk, kept.id, kept.byte_offset)
    return True


def sweep_stalled(now: datetime | None = None) -> int:
    """Job (every minute, from the ticks): resume every import whose chunk job was lost; returns how many.

    The progress page resumes its own import too; this covers an owner who closed the page.
    """
    now = now or utcnow()
    stalled = db.session.scalars(sa.select(CustomerImport).where(
        CustomerImport.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING]),
        CustomerImport.updated_at <= now - STALLED)).all()
    return sum(1 for kept in stalled if resume_stalled(kept))


@dataclass
class _Position:
    number: int  # the row number of the next record
    end: int = 0  # bytes read, from the chunk's start, up to the next record
    finished: bool = False


def _chunk_rows(piece: bytes, encoding: str, position: _Position, end: int,
                at_end: bool) -> Iterator[tuple[int, list[str]]]:
    """Up to CHUNK_ROWS non-blank data rows of piece[:end] (whole lines of the file from the chunk's offset),
    keeping `position` after the last one.  A record reaching `end` may go on past the piece (a memo
    over several lines): unless the piece is the file's end, it is left for the next chunk."""
    count = 0
    for number, cells, stop in csv_io.records_from(piece, encoding, position.number, end=end):
        if stop >= end and not at_end:
            return
        position.number, position.end = number + 1, stop
        if number == 1 or not any(cell.strip() for cell in cells):
            continue  # the header, a blank row
        yield number, cells
        count += 1
        if count >= CHUNK_ROWS:
            break
    position.finished = at_end and position.end >= end


def import_chunk(import_id: int, offset: int) -> None:
    """Job: import the next chunk of rows of an import, if `offset` is still where it stands."""
    # Locked, and read afresh once the lock is ours: a chunk running at the same time has committed by then.
    kept = db.session.scalars(
        sa.select(CustomerImport).where(CustomerImport.id == import_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if kept is None or not kept.in_progress or kept.byte_offset != offset:
        return
    try:
        _import(kept)
    except Exception:  # the owner is told on the page; what earlier chunks committed stays
        log.exception("customer import %s failed at byte %s", import_id, offset)
        jobs.rollback()
        db.session.execute(sa.update(CustomerImport).where(CustomerImport.id == import_id).values(
            status=ImportStatus.FAILED, finished_at=utcnow()))


def _import(kept: CustomerImport) -> None:
    if kept.status == ImportStatus.QUEUED:
        kept.status, kept.started_at = ImportStatus.RUNNING, utcnow()
    shop = db.session.get(Shop, kept.shop_id)
    staff = db.session.get(Staff, kept.staff_id) if kept.staff_id else None
    mapping, key, mode = kept.mapping, kept.match_key, kept.mode
    if shop is None or mapping is None or key is None or mode is None:  # 取り込む sets them before it queues
        raise RuntimeError(f"customer import {kept.id} was queued without its shop, mapping, key or mode")
    window = WINDOW_BYTES
    while True:
        piece, length = db.session.execute(
            sa.select(sa.func.substr(CustomerImport.data, kept.byte_offset + 1, window, type_=sa.LargeBinary),
                      sa.func.length(CustomerImport.data)).where(CustomerImport.id == kept.id)
        ).one()
        at_end = kept.byte_offset + len(piece) >= length
        end = _whole_lines(piece, length - kept.byte_offset)
        position = _Position(number=kept.next_row)
        report = csv_import.ImportReport()
        # The skipped rows' reasons are kept as text, in the language of the owner who reads the report.
        with force_locale((staff.locale if staff else None) or "ja"):
            csv_import.import_rows(kept.shop_id, _chunk_rows(piece, kept.encoding, position, end, at_end),
                                   mapping, key, mode, current_app.config["DEFAULT_PHONE_REGION"],
                                   datetime.now(ZoneInfo(shop.timezone)).date(), report)
        if position.end or position.finished:
            break
        window *= 4  # not one whole record in the window: a longer one
    if report.skipped:
        db.session.execute(sa.insert(CustomerImportSkip.__table__), [
            {"import_id": kept.id, "row_number": number, "reasons": "\n".join(reasons)}
            for number, reasons in report.skipped])
    kept.created_count += report.created
    kept.updated_count += report.updated
    kept.skipped_count += len(report.skipped)
    kept.byte_offset += position.end
    kept.next_row = position.number
    if position.finished:
        kept.status, kept.finished_at = ImportStatus.DONE, utcnow()
        kept.data = b""  # the report stays; the customers' data need not
    else:
        jobs.enqueue_after_commit(import_chunk, kept.id, kept.byte_offset)


def skipped_rows(kept: CustomerImport, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """(row number, reasons) of the rows the import skipped, in file order."""
    query = sa.select(CustomerImportSkip.row_number, CustomerImportSkip.reasons).where(
        CustomerImportSkip.import_id == kept.id).order_by(CustomerImportSkip.row_number)
    if limit is not None:
        query = query.limit(limit)
    return [(number, reasons.split("\n")) for number, reasons in db.session.execute(query)]


def skipped_chunks(import_id: int, size: int = 5000) -> Iterator[list[tuple[int, list[str]]]]:
    """Every skipped row, a page at a time (keyset on the row number), for the report's CSV (which streams
    after the request's commit: it is given the id, not the row)."""
    after = 0
    while True:
        page = [(number, reasons.split("\n")) for number, reasons in db.session.execute(
            sa.select(CustomerImportSkip.row_number, CustomerImportSkip.reasons)
            .where(CustomerImportSkip.import_id == import_id, CustomerImportSkip.row_number > after)
            .order_by(CustomerImportSkip.row_number).limit(size))]
        if not page:
            return
        yield page
        after = page[-1][0]
