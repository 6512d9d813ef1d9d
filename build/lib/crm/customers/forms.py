"""The customer form, with per-field errors in Japanese."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from crm.customers.normalize import InvalidPhone, normalize_kana, normalize_phone


def _kana_only(form, field):
    value = normalize_kana(field.data)
    if value and not all("\u30a0" <= ch <= "\u30ff" for ch in value):
        raise ValidationError(_l("フリガナはカタカナまたはひらがなで入力してください。"))


class CustomerForm(FlaskForm):
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
