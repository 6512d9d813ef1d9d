"""Operations on staff accounts. Services flush; the request commits."""
import sqlalchemy as sa
from flask_babel import gettext as _

from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.staff.models import LineSendMode, Role, Staff
from crm.staff.passwords import hash_password, needs_rehash, verify_password

# Verifying against a real hash when the account is unknown keeps the answer
# time the same, so response timing does not reveal which emails exist.
_DUMMY_HASH = None


class StaffError(UserError, ValueError):
    """An operation the shop's rules do not allow; the message is shown to the owner."""


def load_user_from_session_id(session_id):
    """Flask-Login loader, run on every request for the session and the remember cookie.

    Both carry the id with the staff member's session version; bumping it (sign-out,
    password reset, deactivation) ends every copy of either cookie, wherever it is.
    """
    try:
        staff_id, version = (int(part) for part in session_id.split(":"))
    except (AttributeError, ValueError):
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.active or staff.session_version != version:
        return None
    return staff


def authenticate(email, password):
    """The active staff member with these credentials, or None."""
    global _DUMMY_HASH
    email = (email or "").strip().lower()
    staff = db.session.execute(sa.select(Staff).where(Staff.email == email)).scalar_one_or_none()
    if staff is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not-a-real-password")
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(staff.password_hash, password) or not staff.active:
        return None
    if needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.last_login_at = utcnow()
    db.session.flush()
    return staff


def email_taken(email):
    """True when any account already signs in with this address."""
    return db.session.execute(
        sa.select(sa.exists().where(Staff.email == email.strip().lower()))
    ).scalar()


def create_staff(shop, *, name, email, password, role=Role.STAFF, line_send_mode=LineSendMode.APPROVAL):
    """Create a staff account of the shop."""
    email = email.strip().lower()
    if email_taken(email):
        raise StaffError(_("このメールアドレスは既に使われています。"))
    staff = Staff(
        shop_id=shop.id,
        name=name.strip(),
        email=email,
        password_hash=hash_password(password),
        role=Role(role),
        line_send_mode=LineSendMode(line_send_mode),
    )
    db.session.add(staff)
    db.session.flush()
    return staff


def _active_owner_count(shop_id):
    return db.session.execute(
        sa.select(sa.func.count()).where(
            Staff.shop_id == shop_id, Staff.role == Role.OWNER, Staff.active.is_(True)
        )
    ).scalar_one()


def update_staff(staff, *, name, role, line_send_mode):
    """Change name, role and LINE send setting; the shop always keeps one active owner."""
    role = Role(role)
    if staff.role == Role.OWNER and role != Role.OWNER and staff.active and _active_owner_count(staff.shop_id) <= 1:
        raise StaffError(_("オーナーが1人もいなくなるため、権限を変更できません。"))
    staff.name = name.strip()
    staff.role = role
    staff.line_send_mode = LineSendMode(line_send_mode)
    db.session.flush()
    return staff


def set_active(staff, active, *, acting):
    """Deactivate or reactivate an account; deactivation ends its sessions."""
    if not active:
        if staff.id == acting.id:
            raise StaffError(_("自分自身を無効にすることはできません。"))
        if staff.role == Role.OWNER and _active_owner_count(staff.shop_id) <= 1:
            raise StaffError(_("最後のオーナーは無効にできません。"))
        end_sessions(staff)
    staff.active = active
    db.session.flush()
    return staff


def end_sessions(staff: Staff) -> Staff:
    """End every session and remember cookie of the account, on every device."""
    staff.session_version += 1
    db.session.flush()
    return staff


def reset_password(staff, password):
    """Set a new password and end every session of the account."""
    staff.password_hash = hash_password(password)
    end_sessions(staff)
    return staff
