"""Helpers the settings pages share: the テスト送信 form and a service error put beside its field."""
from flask_login import current_user

from crm.autoreply import previews
from crm.autoreply.forms import TestSendForm, choices


def test_form():
    """The テスト送信 form (None in production), listing the shop's friends."""
    if not previews.test_send_allowed():
        return None
    form = TestSendForm(formdata=None)
    form.friend_id.choices = choices((f.id, f.display_name or f.line_user_id)
                                     for f in previews.test_friends(current_user.shop_id))
    return form


def show_error(form, error):
    """Put a service's error beside its field (or above the form when it names none)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
        return None
    return error.message
