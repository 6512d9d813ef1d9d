"""Forms for signing in and managing staff accounts."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length

from crm.forms import BaseForm
from crm.staff.models import LineSendMode, Role
from crm.staff.passwords import MIN_PASSWORD_LENGTH


class LoginForm(BaseForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(_l("メールアドレスを入力してください。"))])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(_l("パスワードを入力してください。"))])
    remember = BooleanField(_l("ログインしたままにする"))


def _password_field(label):
    return PasswordField(
        label,
        validators=[
            DataRequired(_l("パスワードを入力してください。")),
            Length(min=MIN_PASSWORD_LENGTH, max=128, message=_l("パスワードは%(min)d文字以上にしてください。", min=MIN_PASSWORD_LENGTH)),
        ],
    )


def _send_mode_field():
    return RadioField(
        _l("LINEメッセージの送信"),
        choices=[
            SelectChoice(LineSendMode.DIRECT.value, _l("直接送信できる")),
            SelectChoice(LineSendMode.APPROVAL.value, _l("下書きにオーナーの承認が必要")),
        ],
        default=LineSendMode.APPROVAL.value,
    )


class StaffForm(BaseForm):
    name = StringField(_l("名前"), validators=[DataRequired(_l("名前を入力してください。")), Length(max=80)])
    role = RadioField(
        _l("権限"),
        choices=[SelectChoice(Role.STAFF.value, _l("スタッフ")), SelectChoice(Role.OWNER.value, _l("オーナー"))],
        default=Role.STAFF.value,
    )
    line_send_mode = _send_mode_field()


class StaffCreateForm(StaffForm):
    email = EmailField(
        _l("メールアドレス"),
        validators=[DataRequired(_l("メールアドレスを入力してください。")),
                    Email(_l("メールアドレスの形式が正しくありません。")), Length(max=254)],
    )
    password = _password_field(_l("初期パスワード"))


class PasswordResetForm(BaseForm):
    password = _password_field(_l("新しいパスワード"))


class ConfirmForm(BaseForm):
    """An empty form: its only job is the CSRF token of a POST button."""
