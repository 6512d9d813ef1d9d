"""Factories for test rows; they go through the services so match keys are real."""
import itertools

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import normalize_phone
from crm.customers.services import save_customer, set_phone
from crm.extensions import db
from crm.shops.models import Plan
from crm.staff.models import LineSendMode, Role
from crm.staff.onboarding import create_shop
from crm.staff.services import create_staff

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_shop(name=None, plan=Plan.PREMIUM, timezone="Asia/Tokyo"):
    """A shop with its owner; returns (shop, owner)."""
    n = next(_seq)
    return create_shop(
        name=name or f"サロン{n}",
        owner_email=f"owner{n}@example.com",
        owner_password=PASSWORD,
        owner_name=f"オーナー{n}",
        plan=plan,
        timezone=timezone,
    )


def make_staff(shop, role=Role.STAFF, line_send_mode=LineSendMode.APPROVAL, name=None):
    n = next(_seq)
    return create_staff(
        shop, name=name or f"スタッフ{n}", email=f"staff{n}@example.com", password=PASSWORD,
        role=role, line_send_mode=line_send_mode,
    )


def make_customer(shop, family_name="山田", given_name="太郎", family_name_kana="ヤマダ",
                  given_name_kana="タロウ", phone=None, **fields):
    customer = Customer(
        shop_id=shop.id, family_name=family_name, given_name=given_name,
        family_name_kana=family_name_kana, given_name_kana=given_name_kana, **fields,
    )
    set_phone(customer, phone, normalize_phone(phone) if phone else None)
    customer.refresh_match_keys()
    return save_customer(customer)


def make_friend(shop, customer=None, display_name="たろう", line_user_id=None, followed=True):
    friend = LineFriend(
        shop_id=shop.id,
        line_user_id=line_user_id or f"U{next(_seq):032x}",
        display_name=display_name,
        customer_id=customer.id if customer else None,
        followed=followed,
    )
    db.session.add(friend)
    db.session.flush()
    return friend
