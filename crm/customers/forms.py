"""The customer form, with per-field errors in Japanese."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from crm.customers.normalize import InvalidPhone, normalize_kana, normalize_phone
from crm.customers.tags import DEFAULT_COLOUR, PALETTE, clean_name, find_by_name
from crm.forms import BaseForm


def _kana_only(form, field):
    value = normalize_kana(field.data)
    if value and not all("\u30a0" <= ch <= "\u30ff" for ch in value):
        raise ValidationError(_l("フリガナはカタカナまたはひらがなで入力してください。"))


class CustomerForm(BaseForm):
    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[Optional(), Length(max=60)])
    family_name_kana = StringField(_l("セイ"), validators=[Optional(), Length(max=60), _kana_only])
    given_name_kana = StringField(_l("メイ"), validators=[Optional(), Length(max=60), _kana_only])
    phone = StringField(_l("携帯電話番号"), validators=[Optional(), Length(max=40)])
    email = EmailField(
        _l("メールアドレス"),
        validators=[Optional(), Length(max=254), Email(_l("メールアドレスの形式が正しくありません。"))],
    )
    birthday = DateField(_l("誕生日"), validators=[Optional()])
    memo = TextAreaField(_l("メモ"), validators=[Optional(), Length(max=10000)])
    confirm_duplicate = BooleanField(_l("同じ電話番号の顧客がいることを確認しました"))

    parsed_phone = None

    def validate_phone(self, field):
        if not field.data or not field.data.strip():
            self.parsed_phone = None
            return
        try:
            self.parsed_phone = normalize_phone(field.data, current_app.config["DEFAULT_PHONE_REGION"])
        except InvalidPhone as exc:
            raise ValidationError(
                _l("電話番号として正しくありません（例: 090-1234-5678）。")
            ) from exc

    def validate_birthday(self, field):
        from datetime import date

        if field.data and not (date(1900, 1, 1) <= field.data <= date.today()):
            raise ValidationError(_l("誕生日の日付が正しくありません。"))


class TagForm(BaseForm):
    """A tag's name and colour (new on the record, or edited on the tags page)."""

    name = StringField(_l("タグ名"), validators=[DataRequired(_l("タグ名を入力してください。")),
                                                Length(max=30, message=_l("タグ名は30文字以内で入力してください。"))])
    colour = SelectField(_l("色"), validators=[Optional()])

    def __init__(self, *args, shop_id=None, tag=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.colour.choices = [(key, label) for key, label in PALETTE.items()]
        if not self.colour.data or self.colour.data == "None":
            self.colour.data = DEFAULT_COLOUR
        self._shop_id, self._tag = shop_id, tag

    def validate_name(self, field):
        if not clean_name(field.data):
            raise ValidationError(_l("タグ名を入力してください。"))
        same = find_by_name(self._shop_id, field.data)
        if same is not None and (self._tag is None or same.id != self._tag.id):
            raise ValidationError(_l("同じ名前のタグが既にあります。"))


class ImportUploadForm(BaseForm):
    """The CSV to import."""

    file = FileField(_l("CSVファイル"), validators=[FileRequired(_l("CSVファイルを選んでください。"))])
