"""The customer's linking form, and the owner's linking forms."""
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from crm.customers.normalize import InvalidPhone, normalize_phone
from crm.forms import BaseForm


def _phone_ok(form, field):
    try:
        normalize_phone(field.data)
    except InvalidPhone as exc:
        raise ValidationError(_l("電話番号として正しくありません（例: 090-1234-5678）。")) from exc


class LinkForm(BaseForm):
    """What a customer types to connect their LINE to their record (seed 002: 氏名と携帯電話番号)."""

    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[DataRequired(_l("名を入力してください。")), Length(max=60)])
    phone = StringField(
        _l("携帯電話番号"), validators=[DataRequired(_l("携帯電話番号を入力してください。")), Length(max=40), _phone_ok]
    )


class NewCustomerForm(BaseForm):
    """The owner creates a customer for a LINE friend."""

    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("携帯電話番号"), validators=[Optional(), Length(max=40), _phone_ok])


class LinkingSettingsForm(BaseForm):
    """How the rich-menu form links: wait for the owner (確認待ち) or link at once (自動)."""

    mode = RadioField(
        _l("顧客情報の連携フォーム"),
        choices=[SelectChoice("confirm", _l("店舗が確認してから連携する（おすすめ）")),
                 SelectChoice("auto", _l("自動で連携する"))],
        validators=[DataRequired(_l("どちらかを選んでください。"))],
    )
