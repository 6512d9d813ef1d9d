"""Forms of the booking page and of the owner's booking settings, with per-field errors in Japanese."""
from datetime import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from crm.bookings.formatting import duration_label
from crm.bookings.models import SLOT_MINUTES
from crm.customers.normalize import InvalidPhone, normalize_kana, normalize_phone
from crm.forms import BaseForm

WEEKDAYS = (
    (0, _l("月曜日")), (1, _l("火曜日")), (2, _l("水曜日")), (3, _l("木曜日")),
    (4, _l("金曜日")), (5, _l("土曜日")), (6, _l("日曜日")),
)
TIMES = [time(h, m) for h in range(24) for m in range(0, 60, SLOT_MINUTES)]
DURATIONS = list(range(SLOT_MINUTES, 8 * 60 + 1, SLOT_MINUTES))


def _kana_only(form, field):
    value = normalize_kana(field.data)
    if value and not all("\u30a0" <= ch <= "\u30ff" for ch in value):
        raise ValidationError(_l("フリガナはカタカナまたはひらがなで入力してください。"))


class BookingForm(BaseForm):
    """The visitor's name and phone; the service and time travel as hidden fields."""

    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[DataRequired(_l("名を入力してください。")), Length(max=60)])
    family_name_kana = StringField(
        _l("セイ"), validators=[DataRequired(_l("セイを入力してください。")), Length(max=60), _kana_only]
    )
    given_name_kana = StringField(
        _l("メイ"), validators=[DataRequired(_l("メイを入力してください。")), Length(max=60), _kana_only]
    )
    phone = StringField(
        _l("携帯電話番号"), validators=[DataRequired(_l("携帯電話番号を入力してください。")), Length(max=40)]
    )

    def validate_phone(self, field):
        try:
            normalize_phone(field.data, current_app.config["DEFAULT_PHONE_REGION"])
        except InvalidPhone as exc:
            raise ValidationError(_l("電話番号として正しくありません（例: 090-1234-5678）。")) from exc


class ServiceForm(BaseForm):
    name = StringField(_l("メニュー名"), validators=[DataRequired(_l("メニュー名を入力してください。")), Length(max=60)])
    description = StringField(_l("説明"), validators=[Optional(), Length(max=200)])
    duration_minutes = SelectField(
        _l("所要時間"), coerce=int, choices=[SelectChoice(m, str(m)) for m in DURATIONS],
        validators=[InputRequired(_l("所要時間を選んでください。"))],
    )
    price_yen = IntegerField(
        _l("料金（円・税込）"),
        validators=[
            InputRequired(_l("料金を入力してください。")),
            NumberRange(min=0, max=1_000_000, message=_l("料金は0〜1,000,000円で入力してください。")),
        ],
    )
    position = IntegerField(_l("表示順"), validators=[Optional(), NumberRange(min=0, max=10_000)])
    active = BooleanField(_l("予約ページに表示する"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        self.duration_minutes.choices = [SelectChoice(m, duration_label(m)) for m in DURATIONS]


def _time_choices():
    return [SelectChoice(t.strftime("%H:%M"), t.strftime("%H:%M")) for t in TIMES]


class HoursForm(BaseForm):
    """Seven rows: open or closed, and the opening hours of each weekday."""

    def __init__(self, *args, hours=None, **kwargs):
        super().__init__(*args, **kwargs)
        for weekday, _label in WEEKDAYS:
            for name in ("opens", "closes"):
                getattr(self, f"{name}_{weekday}").choices = _time_choices()
            if hours is not None and not self.is_submitted():
                row = hours.get(weekday)
                getattr(self, f"open_{weekday}").data = row is not None
                getattr(self, f"opens_{weekday}").data = (row.opens_at if row else time(10)).strftime("%H:%M")
                getattr(self, f"closes_{weekday}").data = (row.closes_at if row else time(19)).strftime("%H:%M")

    def rows(self):
        for weekday, label in WEEKDAYS:
            yield (weekday, label, getattr(self, f"open_{weekday}"), getattr(self, f"opens_{weekday}"),
                   getattr(self, f"closes_{weekday}"))

    def parsed(self):
        """{weekday: (opens_at, closes_at) or None}."""
        result = {}
        for weekday, _label, is_open, opens, closes in self.rows():
            if is_open.data:
                result[weekday] = (time.fromisoformat(opens.data), time.fromisoformat(closes.data))
            else:
                result[weekday] = None
        return result

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        ok = True
        for _weekday, _label, is_open, opens, closes in self.rows():
            if is_open.data and not time.fromisoformat(opens.data) < time.fromisoformat(closes.data):
                closes.errors.append(_l("閉店時刻は開店時刻より後にしてください。"))
                ok = False
        return ok


for _weekday, _label in WEEKDAYS:
    setattr(HoursForm, f"open_{_weekday}", BooleanField(_label))
    setattr(HoursForm, f"opens_{_weekday}", SelectField(_l("開店"), choices=[]))
    setattr(HoursForm, f"closes_{_weekday}", SelectField(_l("閉店"), choices=[]))


class ClosureForm(BaseForm):
    day = DateField(_l("休業日"), validators=[InputRequired(_l("日付を入力してください。"))])
    note = StringField(_l("メモ"), validators=[Optional(), Length(max=100)])


class LoginChannelForm(BaseForm):
    login_channel_id = StringField(
        _l("LINEログイン チャネルID"),
        validators=[
            DataRequired(_l("チャネルIDを入力してください。")),
            Regexp(r"^\d{6,20}$", message=_l("チャネルIDは数字です。")),
        ],
    )
    # Blank keeps the stored secret: secrets are never shown again.
    login_channel_secret = PasswordField(
        _l("LINEログイン チャネルシークレット"), validators=[Optional(), Length(min=16, max=64)]
    )
