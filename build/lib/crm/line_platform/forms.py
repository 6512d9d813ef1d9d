"""The owner's LINE channel settings form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp


class ChannelForm(FlaskForm):
    channel_id = StringField(
        _l("チャネルID"),
        validators=[DataRequired(_l("チャネルIDを入力してください。")), Regexp(r"^\d{6,20}$", message=_l("チャネルIDは数字です。"))],
    )
    # Blank means "keep the stored value": secrets are never shown again.
    channel_secret = PasswordField(_l("チャネルシークレット"), validators=[Optional(), Length(min=16, max=64)])
    channel_access_token = PasswordField(_l("チャネルアクセストークン（長期）"), validators=[Optional(), Length(min=20, max=1000)])


class SendForm(FlaskForm):
    text = TextAreaField(_l("メッセージ"), validators=[DataRequired(_l("メッセージを入力してください。"))])
