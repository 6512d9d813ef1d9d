"""The customer's linking form, and the owner's linking forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from crm.customers.normalize import InvalidPhone, normalize_phone


def _phone_ok(form, field):
    try:
        normalize_phone(field.data)
    except InvalidPhone as exc:
        raise ValidationError(_l("電話番号として正しくありません（例: 090-1234-5678）。")) from exc


class LinkForm(FlaskForm):
    """What a customer types to connect their LINE to their record (seed 002: 氏名と携帯電話番号)."""

    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[DataRequired(_l("名を入力してください。")), Length(max=60)])
    phone = StringField(
        _l("携帯電話番号"), validators=[DataRequired(_l("携帯電話番号を入力してください。")), Length(max=40), _phone_ok]
    )


class NewCustomerForm(FlaskForm):
    """The owner creates a customer for a LINE friend."""

    family_name = StringField(_l("姓"), validators=[DataRequired(_l("姓を入力してください。")), Length(max=60)])
    given_name = StringField(_l("名"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("携帯電話番号"), validators=[Optional(), Length(max=40), _phone_ok])
