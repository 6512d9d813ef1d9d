"""Forms of the automatic-response settings; the services check the texts against LINE's limits."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from crm.autoreply.hours import label
from crm.autoreply.models import HoursSource, MatchType, ReplyKind
from crm.forms import BaseForm
from crm.line_platform.sending import MAX_MESSAGES_PER_REQUEST

RANGES_PER_DAY = 3


def choices(pairs):
    """WTForms' SelectChoice list from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


BUBBLE_KINDS = (("", _l("なし")), ("text", _l("テキスト")), ("image", _l("画像")), ("link_card", _l("顧客情報の連携カード")))
WEEKDAY_LABELS = (_l("月曜日"), _l("火曜日"), _l("水曜日"), _l("木曜日"), _l("金曜日"), _l("土曜日"), _l("日曜日"))


class GreetingForm(BaseForm):
    """あいさつメッセージ: on/off, 5 bubbles, the refollow text."""

    greeting_enabled = BooleanField(_l("友だち追加時にあいさつメッセージを送る"))
    refollow_text = TextAreaField(_l("ブロック解除後の再追加時のテキスト（空欄ならテキストの吹き出しをそのまま送ります）"))

    def bubbles(self):
        """[(number, kind, text, url)] of the bubble fields."""
        return [(n, self[f"bubble_{n}_kind"], self[f"bubble_{n}_text"], self[f"bubble_{n}_url"])
                for n in range(1, MAX_MESSAGES_PER_REQUEST + 1)]

    def bubble_values(self):
        return [{"kind": kind.data, "text": text.data or "", "url": (url.data or "").strip()}
                for _n, kind, text, url in self.bubbles() if kind.data]

    @classmethod
    def from_settings(cls, settings):
        data = {"greeting_enabled": settings.greeting_enabled, "refollow_text": settings.refollow_text}
        for n, bubble in enumerate(settings.greeting_bubbles or [], start=1):
            data[f"bubble_{n}_kind"] = bubble.get("kind", "")
            data[f"bubble_{n}_text"] = bubble.get("text", "")
            data[f"bubble_{n}_url"] = bubble.get("url", "")
        return cls(formdata=None, data=data)


for _n in range(1, MAX_MESSAGES_PER_REQUEST + 1):
    setattr(GreetingForm, f"bubble_{_n}_kind", SelectField(_l("吹き出し%(n)d", n=_n), choices=choices(BUBBLE_KINDS), default=""))
    setattr(GreetingForm, f"bubble_{_n}_text", TextAreaField(_l("テキスト")))
    setattr(GreetingForm, f"bubble_{_n}_url", StringField(_l("画像のURL（https://）"), validators=[Length(max=1000)]))


class AwayForm(BaseForm):
    """応答時間 and the 時間外 / 休業日 texts; the own weekly ranges."""

    away_enabled = BooleanField(_l("応答時間外のメッセージに自動で返信する"))
    hours_source = SelectField(_l("応答時間"), choices=choices((
        (HoursSource.BOOKING.value, _l("予約ページの営業時間と臨時休業日を使う")),
        (HoursSource.CUSTOM.value, _l("ここで設定する応答時間と休業日を使う")),
    )))
    away_text = TextAreaField(_l("時間外メッセージ"))
    holiday_text = TextAreaField(_l("休業日のメッセージ（空欄なら時間外メッセージ）"))
    away_window_hours = IntegerField(_l("同じお客様への時間外メッセージの間隔（時間）"), validators=[
        InputRequired(_l("数字で入力してください。")), NumberRange(0, 168, _l("0〜168時間で入力してください。"))])
    push_when_late = BooleanField(_l("応答トークンの期限が切れていたら、プッシュ送信する（通数を消費します）"))

    def days(self):
        """[(weekday, label, [(number, opens field, closes field)])]."""
        return [(day, WEEKDAY_LABELS[day], [(n, self[f"hours_{day}_{n}_opens"], self[f"hours_{day}_{n}_closes"])
                                           for n in range(1, RANGES_PER_DAY + 1)]) for day in range(7)]

    def ranges(self):
        return {day: [(opens.data or "", closes.data or "") for _n, opens, closes in rows]
                for day, _label, rows in self.days()}

    @classmethod
    def from_settings(cls, settings, weekly):
        data = {"away_enabled": settings.away_enabled, "hours_source": HoursSource(settings.hours_source).value,
                "away_text": settings.away_text, "holiday_text": settings.holiday_text,
                "away_window_hours": settings.away_window_hours, "push_when_late": settings.push_when_late}
        for day, ranges in weekly.items():
            for n, (opens, closes) in enumerate(ranges[:RANGES_PER_DAY], start=1):
                data[f"hours_{day}_{n}_opens"], data[f"hours_{day}_{n}_closes"] = label(opens), label(closes)
        return cls(formdata=None, data=data)


for _day in range(7):
    for _n in range(1, RANGES_PER_DAY + 1):
        setattr(AwayForm, f"hours_{_day}_{_n}_opens", StringField(_l("開始"), validators=[Length(max=5)]))
        setattr(AwayForm, f"hours_{_day}_{_n}_closes", StringField(_l("終了"), validators=[Length(max=5)]))


class ClosureForm(BaseForm):
    first_day = DateField(_l("開始日"), validators=[InputRequired(_l("日付を入力してください。"))])
    last_day = DateField(_l("終了日（1日だけなら空欄）"), validators=[Optional()])
    note = StringField(_l("メモ"), validators=[Length(max=100)])


class RuleForm(BaseForm):
    """キーワード応答 rule."""

    name = StringField(_l("ルール名"), validators=[Length(max=60)])
    keyword = StringField(_l("キーワード"), validators=[Length(max=200)])
    match_type = SelectField(_l("一致の条件"), choices=choices((
        (MatchType.EXACT.value, _l("完全一致")), (MatchType.CONTAINS.value, _l("部分一致（含む）")),
        (MatchType.PREFIX.value, _l("前方一致（で始まる）")))))
    priority = IntegerField(_l("優先度（大きいほど優先）"), default=0, validators=[
        InputRequired(_l("数字で入力してください。")), NumberRange(-1000, 1000, _l("-1000〜1000で入力してください。"))])
    enabled = BooleanField(_l("有効"), default=True)
    reply_kind = SelectField(_l("返信の内容"), choices=choices((
        (ReplyKind.TEXT.value, _l("テキスト")), (ReplyKind.IMAGE.value, _l("画像")),
        (ReplyKind.BOOKINGS.value, _l("予約確認（連携済みのお客様の今後のご予約、未連携なら連携カード）")))))
    reply_text = TextAreaField(_l("返信テキスト"))
    image_url = StringField(_l("画像のURL（https://）"), validators=[Length(max=1000)])


class ReminderForm(BaseForm):
    reminder_enabled = BooleanField(_l("予約の前日にリマインダーを送る"))
    reminder_time = TimeField(_l("送信時刻（前日）"), validators=[InputRequired(_l("送信時刻を入力してください。"))])
    reminder_text = TextAreaField(_l("リマインダーのテキスト"))


class TestSendForm(BaseForm):
    friend_id = SelectField(_l("送信先（サンドボックスの友だち）"), coerce=int, validate_choice=True)
