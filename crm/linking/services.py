"""The one matching service every linking path uses, and the owner's linking operations.

Phone and name agree: link.  No customer has the phone: create one and link.
Anything else (the phone matches but the name does not, several customers
match, the customer is linked to someone else): no guessing, a link request
for the owner.  The rich-menu form alone proves only that someone knows a
name and a phone, so unless the shop chose automatic linking its links wait
for the owner too (確認待ち); booking through LINE Login links at once.
Services flush; the request or job commits.
"""
import enum
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import (
    InvalidPhone,
    normalize_kana,
    normalize_name,
    normalize_phone,
)
from crm.customers.services import save_customer, set_phone
from crm.database import utcnow
from crm.extensions import db
from crm.linking.errors import LinkError
from crm.linking.merging import linked_friend_id, lock_friend
from crm.linking.models import LinkRequest, RequestReason, RequestStatus
from crm.linking.strays import free_stray, settle_strays
from crm.shops.models import Shop

RICHMENU = "richmenu"  # the source of links typed into the rich-menu form


class Outcome(enum.StrEnum):
    LINKED = "linked"  # an existing customer
    CREATED = "created"  # a new customer
    PENDING = "pending"  # a link request waits for the owner
    ALREADY = "already"  # the friend was already linked


@dataclass
class LinkResult:
    outcome: Outcome
    customer: Customer | None = None
    request: LinkRequest | None = None
    candidates: list = field(default_factory=list)


@dataclass(frozen=True)
class Typed:
    """What the customer typed into a linking form."""

    family_name: str
    given_name: str
    phone: str
    kana: str = ""

    @property
    def name_key(self):
        return normalize_name(self.family_name) + normalize_name(self.given_name)

    @property
    def kana_key(self):
        return normalize_kana(self.kana)


def _name_agrees(customer, typed):
    """The typed name is the customer's, written in kanji or in kana, any spacing or width."""
    name, kana = typed.name_key, typed.kana_key
    keys = {customer.name_norm, customer.kana_norm or ""} - {""}
    as_kana = normalize_kana(name)
    return bool(keys & {name, as_kana, kana} - {""})


def candidates_for(shop_id, phone_e164):
    """The shop's customers with this normalized phone number."""
    return db.session.scalars(
        sa.select(Customer).where(Customer.shop_id == shop_id, Customer.phone_e164 == phone_e164).order_by(Customer.id)
    ).all()


def needs_confirmation(shop_id: int, source: str) -> bool:
    """Whether a link from `source` waits for the owner (the rich-menu form, unless the shop chose 自動)."""
    shop = db.session.get(Shop, shop_id)
    return source == RICHMENU and not (shop is not None and shop.link_automatically)


def match_and_link(friend: LineFriend, typed: Typed, source: str, region: str = "JP") -> LinkResult:
    """Link the friend to the customer the typed name and phone identify, or ask the owner.

    Raises crm.customers.normalize.InvalidPhone for a phone that is not one.
    """
    phone = normalize_phone(typed.phone, region)
    friend = lock_friend(friend.id)
    if friend.customer_id is not None:
        return LinkResult(Outcome.ALREADY, customer=db.session.get(Customer, friend.customer_id))
    candidates = candidates_for(friend.shop_id, phone.e164)
    agreeing = [c for c in candidates if _name_agrees(c, typed)]
    unconfirmed = needs_confirmation(friend.shop_id, source)
    if not candidates:
        if unconfirmed:
            # A record made now would collect the real customer's later bookings.
            return _request(friend, typed, phone, source, RequestReason.UNCONFIRMED, candidates)
        customer = _create_customer(friend.shop_id, typed, phone)
        _link(friend, customer)
        _close_requests(friend, customer)
        return LinkResult(Outcome.CREATED, customer=customer)
    if len(agreeing) == 1 and len(candidates) == 1:
        customer = agreeing[0]
        if linked_friend_id(customer) not in (None, friend.id):
            return _request(friend, typed, phone, source, RequestReason.CONFLICT, candidates)
        if unconfirmed:
            return _request(friend, typed, phone, source, RequestReason.UNCONFIRMED, candidates)
        try:
            with db.session.begin_nested():
                _link(friend, customer)
        except IntegrityError:
            # Another friend linked this customer at the same moment.
            friend = lock_friend(friend.id)
            return _request(friend, typed, phone, source, RequestReason.CONFLICT, candidates)
        # E.g. a booking through LINE Login answers the friend's waiting form request.
        _close_requests(friend, customer)
        return LinkResult(Outcome.LINKED, customer=customer)
    reason = RequestReason.NAME_MISMATCH if not agreeing else RequestReason.SEVERAL
    return _request(friend, typed, phone, source, reason, candidates)


def _create_customer(shop_id, typed, phone):
    kana = normalize_kana(typed.kana)
    customer = Customer(
        shop_id=shop_id,
        family_name=typed.family_name.strip(),
        given_name=typed.given_name.strip(),
        family_name_kana=kana,
        given_name_kana="",
        memo="",
    )
    set_phone(customer, typed.phone.strip() or None, phone)
    customer.refresh_match_keys()
    return save_customer(customer)


def _link(friend, customer):
    friend.customer_id = customer.id
    friend.linked_at = utcnow()
    db.session.flush()


def _request(friend, typed, phone, source, reason, candidates):
    existing = db.session.scalars(
        sa.select(LinkRequest).where(
            LinkRequest.friend_id == friend.id, LinkRequest.status == RequestStatus.PENDING
        )
    ).first()
    request = existing or LinkRequest(shop_id=friend.shop_id, friend_id=friend.id)
    request.family_name = typed.family_name.strip()
    request.given_name = typed.given_name.strip()
    request.kana = typed.kana.strip()
    request.phone = typed.phone.strip()
    request.phone_e164 = phone.e164
    request.source = source
    request.reason = reason
    request.candidate_ids = [c.id for c in candidates]
    db.session.add(request)
    db.session.flush()
    return LinkResult(Outcome.PENDING, request=request, candidates=list(candidates))


def link_friend(friend, customer):
    """The owner links a friend to a customer; both must be free (one-to-one)."""
    friend = lock_friend(friend.id)
    if friend.shop_id != customer.shop_id:
        raise LinkError(_("別の店舗の顧客には連携できません。"))
    if friend.customer_id == customer.id:
        return friend
    if friend.customer_id is not None:
        raise LinkError(_("この友だちは既に別の顧客と連携しています。先に連携を解除してください。"))
    if linked_friend_id(customer) is not None:
        raise LinkError(_("この顧客は既に別のLINE友だちと連携しています。"))
    try:
        with db.session.begin_nested():
            _link(friend, customer)
    except IntegrityError as exc:
        raise LinkError(_("この顧客は既に別のLINE友だちと連携しています。")) from exc
    _close_requests(friend, customer)
    return friend


def create_customer_for(friend, family_name, given_name="", phone="", kana=""):
    """The owner creates a customer from a friend and links them (InvalidPhone for a bad phone)."""
    parsed = normalize_phone(phone) if phone else None
    customer = _create_customer(friend.shop_id, Typed(family_name, given_name, phone or "", kana), parsed)
    link_friend(friend, customer)
    return customer


def resolve_request(request: LinkRequest, customer: Customer | None, by) -> Customer:
    """The owner answers a link request: link to this customer, or to a new one (customer None)."""
    friend = db.session.get(LineFriend, request.friend_id)
    if customer is None:
        # A booking already made a record for these details: that one, not a third.
        customer = free_stray(request)
    if customer is None:
        try:
            phone = normalize_phone(request.phone)
        except InvalidPhone as exc:
            raise LinkError(_("電話番号として正しくありません（例: 090-1234-5678）。")) from exc
        customer = _create_customer(request.shop_id, Typed(request.family_name, request.given_name, request.phone, request.kana), phone)
    link_friend(friend, customer)
    request.status = RequestStatus.RESOLVED
    request.resolved_customer_id = customer.id
    request.resolved_by_id = by.id if by is not None else None
    request.resolved_at = utcnow()
    db.session.flush()
    return customer


def _close_requests(friend, customer):
    for request in db.session.scalars(
        sa.select(LinkRequest).where(LinkRequest.friend_id == friend.id, LinkRequest.status == RequestStatus.PENDING)
    ).all():
        request.status = RequestStatus.RESOLVED
        request.resolved_customer_id = customer.id
        request.resolved_at = utcnow()
        # What the waiting request made (a booking's own record) now belongs to the answer.
        settle_strays(request, customer)


def unlink(friend):
    """Undo a link: the friend and everything it sent stay, under 未連携の友だち."""
    friend = lock_friend(friend.id)
    friend.customer_id = None
    friend.linked_at = None
    db.session.flush()
    return friend


def pending_request_for(friend: LineFriend) -> LinkRequest | None:
    """The friend's link request still waiting for the owner, if any."""
    return db.session.scalars(
        sa.select(LinkRequest).where(LinkRequest.friend_id == friend.id, LinkRequest.status == RequestStatus.PENDING)
    ).first()


def pending_requests(shop_id):
    """Link requests waiting for the owner, oldest first, with their friends."""
    return db.session.scalars(
        sa.select(LinkRequest)
        .options(sa.orm.joinedload(LinkRequest.friend))
        .where(LinkRequest.shop_id == shop_id, LinkRequest.status == RequestStatus.PENDING)
        .order_by(LinkRequest.created_at)
    ).all()
