"""The customer CSV import as jobs (issue 15): the request only queues it, chunks of rows commit one by one,
the page polls the progress and then shows the report, a file is read a window at a time."""
import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from crm import jobs
from crm.customers import csv_import, csv_io, import_jobs, tags
from crm.customers.models import Customer, CustomerImport, CustomerImportSkip, ImportStatus
from crm.extensions import db as _db
from tests.factories import make_customer

HEADER = "氏名,フリガナ,電話,メール,誕生日,タグ,メモ\r\n"
TODAY = date(2026, 12, 3)
FORM = {"map_name": "0", "map_kana": "1", "map_phone": "2", "map_email": "3", "map_birthday": "4",
        "map_tags": "5", "map_memo": "6", "key": "phone", "mode": "update"}


@pytest.fixture
def signed_in(client, auth, shop):
    auth.login(shop[1])
    return shop[0]


class Queue(list):
    """Jobs enqueued after a commit, (path, args), waiting for run_next()."""

    def run_next(self):
        """Run the first job as a worker would (one commit); returns it."""
        path, args = self.pop(0)
        jobs.run_job(path, *args)
        return path, args


@pytest.fixture
def queued(monkeypatch):
    """Jobs are kept here instead of running at once."""
    waiting = Queue()
    monkeypatch.setattr(jobs, "enqueue", lambda job, *args, **kwargs: waiting.append((jobs.job_path(job), args)))
    return waiting


def _upload(client, text, encoding="cp932"):
    response = client.post_form("/customers/import", {"file": (io.BytesIO(text.encode(encoding)), "顧客.csv")},
                                content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return _db.session.scalars(sa.select(CustomerImport).order_by(CustomerImport.id.desc())).first()


def _customers(shop):
    return _db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop.id).order_by(Customer.id)).all()


def _rows(count, start=0):
    return "".join(f"客 {i}号,キャク,090-2000-{i:04d},,,,\r\n" for i in range(start, start + count))


def test_the_owner_starts_the_import_and_the_page_polls_its_progress_until_the_report(
        client, signed_in, queued, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 3)
    make_customer(signed_in, family_name="既存", phone="090-2000-0001", memo="残すメモ")
    kept = _upload(client, HEADER + _rows(4) + "悪い 行,,090-12,,1990/2/30,,\r\n" + _rows(2, start=4))
    response = client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    assert response.status_code == 302
    assert _customers(signed_in)[0].family_name == "既存" and len(_customers(signed_in)) == 1  # nothing yet
    assert [path for path, _args in queued] == ["crm.customers.import_jobs.import_chunk"]

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "取り込み中" in page and "0 / 7 行" in page
    assert f'hx-get="/customers/import/{kept.id}/progress" hx-trigger="every 1s"' in page

    queued.run_next()  # the first chunk: three rows, committed, the next chunk queued
    fragment = client.htmx_get(f"/customers/import/{kept.id}/progress", "import-progress").get_data(as_text=True)
    assert "3 / 7 行" in fragment and "新規登録 2" in fragment and "更新 1" in fragment and "hx-get" in fragment
    assert len(_customers(signed_in)) == 3

    while queued:
        queued.run_next()
    fragment = client.htmx_get(f"/customers/import/{kept.id}/progress", "import-progress").get_data(as_text=True)
    assert "hx-get" not in fragment  # finished: polling stops, the report takes the progress' place
    assert "取り込み結果" in fragment and "新規登録: 5 人" in fragment and "更新: 1 人" in fragment
    assert re.search(r"<td>6</td><td><div class=\"row-error\">電話番号として正しくありません.*?誕生日", fragment, re.S)
    existing = _customers(signed_in)[0]
    assert existing.family_name == "客" and existing.memo == "残すメモ"  # updated, the empty cell kept
    assert len(_customers(signed_in)) == 6
    _db.session.refresh(kept)
    assert kept.status == ImportStatus.DONE and kept.finished_at is not None
    assert _db.session.scalar(sa.select(sa.func.length(CustomerImport.data))) == 0  # the file is dropped
    page = client.get(f"/customers/import/{kept.id}").get_data(as_text=True)
    assert "新規登録: 5 人" in page and "スキップ: 1 行" in page


def test_a_second_click_starts_no_second_import_and_a_started_import_cannot_be_cancelled(client, signed_in, queued):
    kept = _upload(client, HEADER + _rows(2))
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    response = client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    assert response.status_code == 302 and len(queued) == 1
    client.post_form(f"/customers/import/{kept.id}/cancel")
    assert _db.session.get(CustomerImport, kept.id) is not None
    queued.run_next()
    assert len(_customers(signed_in)) == 2


def test_a_chunk_queued_twice_imports_its_rows_once(client, signed_in, queued, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
    kept = _upload(client, HEADER + _rows(3))
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    path, args = queued.run_next()
    jobs.run_job(path, *args)  # the same chunk again (a retry, a resumed job): it stands elsewhere now
    assert len(_customers(signed_in)) == 2 and len(queued) == 1
    queued.run_next()
    _db.session.refresh(kept)
    assert (kept.created_count, kept.status) == (3, ImportStatus.DONE)


def test_a_lost_chunk_is_queued_again_when_the_page_polls(client, signed_in, queued):
    kept = _upload(client, HEADER + _rows(2))
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    queued.clear()  # the worker died with the job
    client.htmx_get(f"/customers/import/{kept.id}/progress", "import-progress")
    assert queued == []  # too soon to call it lost
    with time_machine.travel(import_jobs.utcnow() + import_jobs.STALLED + timedelta(seconds=5), tick=False):
        client.htmx_get(f"/customers/import/{kept.id}/progress", "import-progress")
        client.htmx_get(f"/customers/import/{kept.id}/progress", "import-progress")
    assert len(queued) == 1  # queued once: the first poll marked the row
    queued.run_next()
    assert len(_customers(signed_in)) == 2


def test_the_minute_tick_resumes_an_import_whose_page_was_closed(client, signed_in, queued):
    kept = _upload(client, HEADER + _rows(2))
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    queued.clear()  # the worker died with the job, and nobody watches the progress page
    assert import_jobs.sweep_stalled() == 0  # too soon to call it lost
    with time_machine.travel(import_jobs.utcnow() + import_jobs.STALLED + timedelta(seconds=5), tick=False):
        _db.session.expire_all()  # as the tick's own session would read it
        assert import_jobs.sweep_stalled() == 1
        assert import_jobs.sweep_stalled() == 0  # the first sweep marked the row
        jobs.commit()  # the tick's one commit sends its jobs
    assert len(queued) == 1
    queued.run_next()
    assert len(_customers(signed_in)) == 2
    assert import_jobs.sweep_stalled() == 0  # done: nothing left to resume


def test_a_failing_chunk_fails_the_import_and_keeps_what_earlier_chunks_committed(
        client, signed_in, queued, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
    kept = _upload(client, HEADER + _rows(4))
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    queued.run_next()

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(csv_import, "import_rows", broken)
    queued.run_next()
    _db.session.refresh(kept)
    assert kept.status == ImportStatus.FAILED and kept.created_count == 2 and queued == []
    assert len(_customers(signed_in)) == 2
    page = client.get(f"/customers/import/{kept.id}").get_data(as_text=True)
    assert "取り込みが途中で止まりました" in page and "新規登録: 2 人" in page and "/progress" not in page


def test_many_skipped_rows_show_the_first_and_download_all_with_reasons(client, signed_in, monkeypatch):
    monkeypatch.setattr(import_jobs, "SKIPS_SHOWN", 2)
    kept = _upload(client, HEADER + "一,,090-12,,,,\r\n二,,,,2001/2/29,,\r\n,,090-2000-0001,,,,\r\n良い,,,,,,\r\n")
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})  # jobs run at once in tests
    page = client.get(f"/customers/import/{kept.id}").get_data(as_text=True)
    assert "スキップ: 3 行" in page and "先頭の 2 行を表示しています（全 3 行）" in page
    assert re.findall(r"<tr><td>(\d+)</td>", page) == ["2", "3"]
    response = client.get(f"/customers/import/{kept.id}/skipped.csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "行,理由"
    assert lines[1].startswith("2,電話番号として正しくありません") and lines[2].startswith("3,誕生日の日付が正しくありません")
    assert lines[3] == "4,氏名がありません。" and len(lines) == 4


def test_the_reasons_are_written_in_the_language_of_the_owner_who_started_it(client, signed_in, shop, english):
    owner = shop[1]
    owner.locale = "en"
    _db.session.flush()
    kept = _upload(client, HEADER + "悪い,,090-12,,,,\r\n")
    client.post_form(f"/customers/import/{kept.id}", {**FORM, "action": "run"})
    reasons = _db.session.scalar(sa.select(CustomerImportSkip.reasons))
    assert reasons == "This is not a valid phone number (e.g. 090-1234-5678)."


def test_an_old_report_is_dropped_with_the_next_upload_but_never_a_running_import(client, signed_in, queued):
    finished = _upload(client, HEADER + _rows(1))
    client.post_form(f"/customers/import/{finished.id}", {**FORM, "action": "run"})
    queued.run_next()
    running = _upload(client, HEADER + _rows(1, start=1))
    client.post_form(f"/customers/import/{running.id}", {**FORM, "action": "run"})
    with time_machine.travel(import_jobs.utcnow() + timedelta(days=2), tick=False):
        _upload(client, HEADER + _rows(1, start=2))
    assert _db.session.scalars(sa.select(CustomerImport.id).order_by(CustomerImport.id)).all()[:1] == [running.id]


def _kept_file(shop, text, encoding="cp932"):
    data = text.encode(encoding)
    kept = CustomerImport(shop_id=shop.id, filename="x.csv", encoding=csv_io.detect_encoding(data), data=data,
                          row_count=csv_io.inspect(data, csv_io.detect_encoding(data), 10**6)[1])
    _db.session.add(kept)
    _db.session.flush()
    return kept


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_read_a_small_window_at_a_time_the_import_is_the_same_as_in_one_pass(shop, monkeypatch, encoding):
    """Memos over several lines cross the windows' ends, one record is longer than a window, rows repeat
    earlier rows' phones (updates across chunks), a blank row, and the last line ends in a bare CR."""
    s = shop[0]
    monkeypatch.setattr(import_jobs, "WINDOW_BYTES", 64)
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 4)
    rows, bad = [], []
    for i in range(30):
        memo = f'"{i}行目のメモ\r\n二行目, 「引用」 ""です""\r\n三行目"' if i % 3 == 0 else f"メモ{i}"
        phone = "090-12" if i % 7 == 5 else f"090-3000-{(i if i < 20 else i - 19):04d}"  # 20.. update 1..
        rows.append(f"髙橋 {i}号,タカハシ,{phone},,平成2年1月{i % 28 + 1}日,VIP、常連{i % 2},{memo}\r\n")
        if i == 10:
            rows.append("\r\n")  # a blank row keeps its number
        if i == 12:
            rows.append('長い 行,,,,,,"' + "長" * 200 + '"\r\n')  # a record longer than a window
    rows.append("最後 行,,090-3000-0099,,,,終わり\r")
    bad = [number for number, row in enumerate(rows, start=2) if ",090-12," in row]
    text = HEADER + "".join(rows)
    mapping = csv_io.guess_mapping(HEADER.strip().split(","))
    kept = _kept_file(s, text, encoding)
    whole = csv_import.run_import(s.id, text.encode(encoding), kept.encoding, mapping, "phone", "update", "JP", TODAY)
    one_pass = {c.phone_e164 or c.full_name: (c.full_name, c.memo, c.birthday) for c in _customers(s)}
    _db.session.execute(sa.delete(Customer).where(Customer.shop_id == s.id))

    waiting = []
    monkeypatch.setattr(jobs, "enqueue_after_commit", lambda job, *args: waiting.append(args))
    import_jobs.start(kept, mapping, "phone", "update")
    chunks = 0
    while waiting:
        import_jobs.import_chunk(*waiting.pop())  # as a worker would, short of the commit
        chunks += 1
    _db.session.flush()
    _db.session.refresh(kept)
    assert chunks > 8 and kept.status == ImportStatus.DONE
    assert (kept.created_count, kept.updated_count, kept.skipped_count) == (
        whole.created, whole.updated, len(whole.skipped)) == (20, 8, 4)
    chunked = {c.phone_e164 or c.full_name: (c.full_name, c.memo, c.birthday) for c in _customers(s)}
    assert chunked == one_pass
    assert chunked["+819030000015"] == ("髙橋 15号", "15行目のメモ\r\n二行目, 「引用」 \"です\"\r\n三行目", date(1990, 1, 16))
    assert chunked["+819030000001"][0] == "髙橋 20号"  # row 20 updated row 1, in another chunk
    assert chunked["長い 行"][1] == "長" * 200
    assert import_jobs.skipped_rows(kept) == whole.skipped
    assert [number for number, _reasons in whole.skipped] == bad  # Excel's row numbers
    first = _customers(s)[0]
    assert {t.name for t in tags.tags_for_customers(s.id, [first.id])[first.id]} == {"VIP", "常連0"}


def test_the_mapping_page_reads_only_the_start_of_the_file(client, signed_in, monkeypatch):
    monkeypatch.setattr(import_jobs, "PREVIEW_BYTES", 120)
    kept = _kept_file(signed_in, HEADER + "".join(f"客 {i},,,,,,\"メモ\r\n続き{i}\"\r\n" for i in range(50)))
    header, rows = import_jobs.file_start(kept)
    rows = list(rows)
    assert header == HEADER.strip().split(",")
    assert 0 < len(rows) < 5 and [n for n, _cells in rows] == list(range(2, 2 + len(rows)))
    assert all(cells[6].startswith("メモ\r\n続き") for _n, cells in rows)  # no record cut at the prefix's end
    page = client.get(f"/customers/import/{kept.id}").get_data(as_text=True)
    assert "プレビュー（先頭 " in page and "50 行を取り込む" in page
