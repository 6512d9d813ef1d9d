"""Reading a customer CSV: encoding, columns, and each row checked as the customer form checks it.

Nothing here guesses: a phone, date or address that does not parse is an error of
its row, reported with the row's number (the header is row 1, as in Excel).
"""
import codecs
import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l

from crm.customers.normalize import InvalidPhone, Phone, normalize_kana, normalize_phone
from crm.customers.tags import NAME_MAX as TAG_NAME_MAX
from crm.customers.tags import split_names
from crm.security import control_character_in

# The columns of the ledger's CSV, in export order.
FIELDS = ("name", "kana", "phone", "email", "birthday", "tags", "memo")
FIELD_LABELS = {
    "name": _l("氏名"), "kana": _l("フリガナ"), "phone": _l("電話"), "email": _l("メール"),
    "birthday": _l("誕生日"), "tags": _l("タグ"), "memo": _l("メモ"),
}
# Headers each field is recognised by (compared after NFKC, lower case, no spaces).
HEADER_GUESSES = {
    "name": ("氏名", "名前", "お名前", "顧客名", "name", "fullname", "customer"),
    "kana": ("フリガナ", "ふりがな", "カナ", "よみがな", "読み", "kana", "furigana"),
    "phone": ("電話", "電話番号", "携帯", "携帯電話", "携帯電話番号", "tel", "phone", "mobile"),
    "email": ("メール", "メールアドレス", "eメール", "email", "e-mail", "mail"),
    "birthday": ("誕生日", "生年月日", "birthday", "birthdate", "dateofbirth"),
    "tags": ("タグ", "tag", "tags", "ラベル"),
    "memo": ("メモ", "備考", "memo", "note", "notes"),
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 64 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for the owner."""


def read_upload(stream, max_bytes: int) -> bytes:
    """The uploaded bytes, refused when over max_bytes (read at most one byte more)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportFileError(_l("ファイルが大きすぎます（上限 %(mb)s MB）。分けて取り込んでください。",
                                 mb=max_bytes // (1024 * 1024)))
    if not data.strip():
        raise ImportFileError(_l("ファイルが空です。"))
    return data


def _decodes(data: bytes, encoding: str) -> bool:
    # Checked in chunks through memoryview slices: the text is never held next to the bytes.
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(view[start:start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def without_stray_bom(data: bytes) -> bytes:
    """The file without a UTF-8 BOM put in front of text that is not UTF-8 (a Shift_JIS file some tools mark so)."""
    if data.startswith(codecs.BOM_UTF8) and not _decodes(data, "utf-8"):
        return data[len(codecs.BOM_UTF8):]
    return data


def detect_encoding(data: bytes) -> str:
    """utf-8-sig (with BOM), utf-8, or cp932 (what Japanese Excel saves as 「CSV」); see without_stray_bom."""
    if data.startswith(codecs.BOM_UTF8) and _decodes(data, "utf-8"):
        return "utf-8-sig"
    if _decodes(data, "utf-8"):
        return "utf-8"
    if _decodes(data, "cp932"):
        return "cp932"
    raise ImportFileError(_l("文字コードを判別できません。UTF-8 または Shift_JIS の CSV を選んでください。"))


_LINE_END = re.compile(rb"\r\n|\r|\n")  # never inside a character: cp932's and UTF-8's later bytes are not ASCII


class _Lines:
    """Decoded lines of data[start:end], ends kept (as open(newline="") reads them), remembering where the next begins.

    csv.reader asks for a line only when its record needs one, so after each
    record `position` is the byte offset of the next record: where a later job resumes.
    """

    def __init__(self, data: bytes, encoding: str, start: int = 0, end: int | None = None):
        self.data, self.position = data, start
        self.end = len(data) if end is None else end
        self.decode = codecs.getincrementaldecoder(encoding)().decode

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.position >= self.end:
            raise StopIteration
        found = _LINE_END.search(self.data, self.position, self.end)
        stop = found.end() if found else self.end
        line = self.decode(self.data[self.position:stop])
        self.position = stop
        return line


def _read(lines: _Lines) -> Iterator[list[str]]:
    try:
        yield from csv.reader(lines)
    except csv.Error as exc:
        raise ImportFileError(_l("CSVとして読めません: %(error)s", error=str(exc))) from exc


def records(data: bytes, encoding: str) -> Iterator[list[str]]:
    """The CSV's records, decoded as they are read."""
    return _read(_Lines(data, encoding))


def records_from(data: bytes, encoding: str, number: int, start: int = 0,
                 end: int | None = None) -> Iterator[tuple[int, list[str], int]]:
    """(row number, cells, offset of the next record) of each record of data[start:end], the first numbered `number`."""
    lines = _Lines(data, encoding, start, end)
    for cells in _read(lines):
        yield number, cells, lines.position
        number += 1


def inspect(data: bytes, encoding: str, max_rows: int) -> tuple[list[str], int]:
    """The header and the number of data rows, refused over max_rows."""
    rows = records(data, encoding)
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise ImportFileError(_l("1行目に見出し（氏名、電話など）が必要です。"))
    count = 0
    for cells in rows:
        if any(cell.strip() for cell in cells):
            count += 1
            if count > max_rows:
                raise ImportFileError(_l("行数が多すぎます（上限 %(n)s 行）。分けて取り込んでください。", n=max_rows))
    if count == 0:
        raise ImportFileError(_l("見出しの下にデータの行がありません。"))
    return header, count


def _header_key(text: str) -> str:
    return re.sub(r"[\s_]", "", unicodedata.normalize("NFKC", text or "").lower())


def guess_mapping(header: list[str]) -> dict[str, int | None]:
    """field → column index, from the header's words (exact words first, then a word inside)."""
    keys = [_header_key(h) for h in header]
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    for exact in (True, False):
        for name, words in HEADER_GUESSES.items():
            if mapping.get(name) is not None:
                continue
            for index, key in enumerate(keys):
                if index in taken or not key:
                    continue
                if (key in words) if exact else any(w in key for w in words if len(w) > 1):
                    mapping[name] = index
                    taken.add(index)
                    break
    return {name: mapping.get(name) for name in FIELDS}


@dataclass
class ParsedRow:
    number: int  # as Excel numbers it: the header is row 1
    values: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    phone: Phone | None = None
    tags: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _split_name(text: str) -> tuple[str, str]:
    parts = text.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


_ERAS = {"明治": (1868, 45), "大正": (1912, 15), "昭和": (1926, 64), "平成": (1989, 31), "令和": (2019, 99),
         "m": (1868, 45), "t": (1912, 15), "s": (1926, 64), "h": (1989, 31), "r": (2019, 99)}
_WESTERN = re.compile(r"(\d{4})[/\-.年](\d{1,2})[/\-.月](\d{1,2})日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ERA = re.compile(r"(明治|大正|昭和|平成|令和|[mtshr])(元|\d{1,2})[/\-.年](\d{1,2})[/\-.月](\d{1,2})日?")
_TIME = re.compile(r"\s+\d{1,2}:\d{2}(:\d{2})?$")  # Excel's 「1990/01/02 0:00」


def parse_birthday(text: str, today: date) -> date:
    """A birthday as Japanese spreadsheets write it: 1990/1/2, 1990-01-02, 1990年1月2日, 19900102, 平成2年1月2日, H2.1.2."""
    value = _TIME.sub("", unicodedata.normalize("NFKC", text).strip()).replace(" ", "").lower()
    if match := _WESTERN.fullmatch(value) or _COMPACT.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
    elif match := _ERA.fullmatch(value):
        era, era_year, month_text, day_text = match.groups()
        start, last = _ERAS[era]
        number = 1 if era_year == "元" else int(era_year)
        if not 1 <= number <= last:
            raise ValueError("year outside the era")
        year, month, day = start + number - 1, int(month_text), int(day_text)
    else:
        raise ValueError("unknown format")
    result = date(year, month, day)  # ValueError for 2月30日
    if not date(1900, 1, 1) <= result <= today:
        raise ValueError("out of range")
    return result


def _email_ok(value: str) -> bool:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return False
    return len(value) <= 254


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    value = cells[index].strip()
    if value.startswith("'") and value[1:2] in _FORMULA_STARTS:
        value = value[1:]  # the export's guard against spreadsheet formulas, undone
    return value


def parse_row(number: int, cells: list[str], mapping: dict[str, int | None], region: str, today: date) -> ParsedRow:
    """One data row checked field by field; every problem of the row is listed."""
    row = ParsedRow(number=number)
    raw = {name: _cell(cells, mapping.get(name)) for name in FIELDS}
    for name, value in raw.items():
        if control_character_in(value, multiline=(name == "memo")):
            row.errors.append(_l("%(field)s に使用できない制御文字が含まれています。", field=FIELD_LABELS[name]))
            raw[name] = ""
    family, given = _split_name(raw["name"])
    if not family:
        row.errors.append(_l("氏名がありません。"))
    elif len(family) > 60 or len(given) > 60:
        row.errors.append(_l("氏名が長すぎます。"))
    family_kana, given_kana = _split_name(raw["kana"])
    if raw["kana"]:
        kana = normalize_kana(raw["kana"])
        if not all("\u30a0" <= ch <= "\u30ff" for ch in kana):
            row.errors.append(_l("フリガナはカタカナまたはひらがなで入力してください。"))
        elif len(family_kana) > 60 or len(given_kana) > 60:
            row.errors.append(_l("フリガナが長すぎます。"))
    if raw["phone"]:
        if len(raw["phone"]) > 40:
            row.errors.append(_l("電話番号として正しくありません（例: 090-1234-5678）。"))
        else:
            try:
                row.phone = normalize_phone(raw["phone"], region)
            except InvalidPhone:
                row.errors.append(_l("電話番号として正しくありません（例: 090-1234-5678）。"))
    if raw["email"] and not _email_ok(raw["email"]):
        row.errors.append(_l("メールアドレスの形式が正しくありません。"))
    birthday = None
    if raw["birthday"]:
        try:
            birthday = parse_birthday(raw["birthday"], today)
        except ValueError:
            row.errors.append(_l("誕生日の日付が正しくありません（例: 1990/1/2、平成2年1月2日）。"))
    row.tags = split_names(raw["tags"])
    if any(len(name) > TAG_NAME_MAX for name in row.tags):
        row.errors.append(_l("タグ名は30文字以内で入力してください。"))
    if len(raw["memo"]) > 10000:
        row.errors.append(_l("メモが長すぎます。"))
    row.values = dict(
        family_name=family, given_name=given, family_name_kana=family_kana, given_name_kana=given_kana,
        phone=raw["phone"] or None, email=raw["email"] or None, birthday=birthday, memo=raw["memo"],
    )
    return row


def data_rows(data: bytes, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every non-blank data row."""
    for number, cells, _next in records_from(data, encoding, 1):
        if number > 1 and any(cell.strip() for cell in cells):
            yield number, cells
