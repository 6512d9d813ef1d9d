"""Sign-in, sign-out and the owner's staff administration pages."""
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm import jobs
from crm.database import get_for_shop_or_404
from crm.errors import back_to
from crm.extensions import db, limiter, normalized_login_email
from crm.staff import blueprint, services
from crm.staff.decorators import owner_required
from crm.staff.forms import (
    ConfirmForm,
    LoginForm,
    PasswordResetForm,
    StaffCreateForm,
    StaffForm,
)
from crm.staff.models import Staff


def _safe_next(target):
    """Only same-site relative paths are followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"],
    key_func=normalized_login_email,
    methods=["POST"],
)
def login():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(url_for("customers.index"))
    form = LoginForm()
    if form.validate_on_submit():
        staff = services.authenticate(form.email.data, form.password.data)
        if staff is None:
            form.password.errors.append(_("メールアドレスまたはパスワードが正しくありません。"))
        else:
            lang = session.get("lang")
            if lang and not staff.locale:
                staff.locale = lang  # the language chosen on the sign-in page sticks
            session.clear()  # a fresh session on sign-in: no fixation
            if lang:
                session["lang"] = lang
            login_user(staff, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("customers.index"))
    return render_template("staff/login.html", form=form, throttled=False)


@blueprint.post("/logout")
@login_required
def logout():
    """Sign out (POST, so a link on another site cannot sign anyone out).

    Every copy of the session and remember cookies ends, on this device and others
    (a shared salon tablet, a cookie copied earlier).
    """
    services.end_sessions(current_user)
    session.clear()
    # After the clear: logout_user() leaves the note that deletes the remember cookie.
    logout_user()
    return redirect(url_for("staff.login"))


@blueprint.post("/language")
def set_language():
    """Switch the interface language for this session (and the account, when signed in)."""
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("index"))


@blueprint.get("/staff/")
@owner_required
def staff_index():
    """The shop's staff accounts."""
    members = db.session.scalars(
        db.select(Staff).where(Staff.shop_id == current_user.shop_id).order_by(Staff.active.desc(), Staff.id)
    ).all()
    return render_template("staff/index.html", members=members, confirm_form=ConfirmForm())


@blueprint.route("/staff/new", methods=["GET", "POST"])
@owner_required
def staff_new():
    """Create a staff account."""
    form = StaffCreateForm()
    if form.validate_on_submit():
        try:
            with jobs.savepoint():
                staff = services.create_staff(
                    current_user.shop,
                    name=form.name.data,
                    email=form.email.data,
                    password=form.password.data,
                    role=form.role.data,
                    line_send_mode=form.line_send_mode.data,
                )
        except services.StaffError as exc:  # beside the field, in the form shown again
            form.email.errors.append(str(exc))
        else:
            flash(_("%(name)s さんのアカウントを作成しました。", name=staff.name), "success")
            return redirect(url_for("staff.staff_index"))
    return render_template("staff/form.html", form=form, member=None)


@blueprint.route("/staff/<int:staff_id>/edit", methods=["GET", "POST"])
@owner_required
def staff_edit(staff_id):
    """Edit name, role and LINE send setting."""
    member = get_for_shop_or_404(Staff, staff_id)
    form = StaffForm(obj=member)
    if request.method == "GET":
        form.role.data = member.role.value
        form.line_send_mode.data = member.line_send_mode.value
    if form.validate_on_submit():
        try:
            with jobs.savepoint():
                services.update_staff(
                    member, name=form.name.data, role=form.role.data, line_send_mode=form.line_send_mode.data
                )
        except services.StaffError as exc:  # beside the field, in the form shown again
            form.role.errors.append(str(exc))
        else:
            flash(_("%(name)s さんの設定を保存しました。", name=member.name), "success")
            return redirect(url_for("staff.staff_index"))
    return render_template(
        "staff/form.html", form=form, member=member, password_form=PasswordResetForm(), confirm_form=ConfirmForm()
    )


@blueprint.post("/staff/<int:staff_id>/password")
@owner_required
def staff_reset_password(staff_id):
    """Set a new password for a staff member."""
    member = get_for_shop_or_404(Staff, staff_id)
    password_form = PasswordResetForm()
    if not password_form.validate_on_submit():
        form = StaffForm(obj=member)
        form.role.data = member.role.value
        form.line_send_mode.data = member.line_send_mode.value
        return render_template(
            "staff/form.html", form=form, member=member, password_form=password_form, confirm_form=ConfirmForm()
        ), 422
    services.reset_password(member, password_form.password.data)
    if member.id == current_user.id:
        login_user(member)  # keep the owner's own session after changing their password
    flash(_("%(name)s さんのパスワードを再設定しました。", name=member.name), "success")
    return redirect(url_for("staff.staff_index"))


@blueprint.post("/staff/<int:staff_id>/active")
@owner_required
def staff_set_active(staff_id):
    """Deactivate or reactivate a staff account."""
    member = get_for_shop_or_404(Staff, staff_id)
    ConfirmForm().validate_on_submit()  # CSRF is checked globally; nothing else to validate
    active = request.form.get("active") == "1"
    back_to(url_for("staff.staff_index"))
    services.set_active(member, active, acting=current_user)  # a StaffError: flashed, nothing changed
    if active:
        flash(_("%(name)s さんを有効にしました。", name=member.name), "success")
    else:
        flash(_("%(name)s さんを無効にしました。", name=member.name), "success")
    return redirect(url_for("staff.staff_index"))
