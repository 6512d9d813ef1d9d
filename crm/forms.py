"""The base of every form of the app: no field accepts control characters."""
from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.validators import StopValidation

from crm.security import control_character_in, unchecked


class NoControlCharacters:
    """Refuse NUL, BEL, ESC, DEL, ... (PostgreSQL stores no NUL); a textarea keeps tab and new lines."""

    field_flags: dict[str, bool] = {}

    def __init__(self, multiline: bool):
        self.multiline = multiline

    def __call__(self, form, field):
        for value in field.raw_data or ():
            if isinstance(value, str) and control_character_in(value, multiline=self.multiline):
                g.refused_control_characters = True  # crm.security answers 422
                raise StopValidation(_l("使用できない制御文字が含まれています。"))


class BaseForm(FlaskForm):
    """FlaskForm whose every field refuses control characters, with the error beside the field."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            # The form reads the raw values and says which field is wrong, instead of the
            # 400 that request.form gives for a value with a control character.
            return unchecked(super().wrap_formdata(form, formdata))

        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if not isinstance(field, CSRFTokenField):
                field.validators = [NoControlCharacters(multiline=isinstance(field, TextAreaField)),
                                    *field.validators]
            return field
