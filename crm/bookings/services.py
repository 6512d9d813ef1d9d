"""Booking operations: the menu, hours, making, cancelling and moving bookings.

Services flush; the request or job commits (crm.jobs.commit, so queued LINE
messages go out after the booking is committed).
"""
from dataclasses import dataclass
from datetime import timedelta, timezone

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from crm import signals
from crm.bookings import catalog, slots, texts
from crm.bookings.models import (
    Booking,
    BookingSlot,
    BookingSource,
    BookingStatus,
)
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import normalize_kana, normalize_name, normalize_phone
from crm.customers.services import save_customer, set_phone
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.sending import queue_text
from crm.linking.services import Outcome, Typed, match_and_link
from crm.linking.strays import note_made_customer
from crm.shops.models import Shop


class SlotUnavailable(UserError, ValueError):
    """The time is not bookable (closed, past, not on the menu, or already taken as far as we can see)."""

    default_message = _l("この時間はご予約いただけなくなりました。別の時間をお選びください。")


class SlotTaken(SlotUnavailable):
    """Another booking holds one of the units: the database refused the second booking."""

    default_message = _l("申し訳ありません。この時間はたった今ほかのご予約が入りました。別の時間をお選びください。")


@dataclass(frozen=True)
class Visitor:
    """What the visitor typed on the booking page."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    phone: str


@dataclass
class BookingResult:
    booking: Booking
    customer: Customer
    link_outcome: Outcome | None = None  # None: booked without LINE

    @property
    def link_pending(self):
        return self.link_outcome == Outcome.PENDING

    @property
    def linked(self):
        return self.link_outcome in (Outcome.LINKED, Outcome.CREATED, Outcome.ALREADY)


# -- the shop's page, menu and hours ----------------------------------------------------------------


def shop_by_key(key):
    if not key or len(key) > 64:
        return None
    return db.session.scalars(sa.select(Shop).where(Shop.booking_key == key)).first()


def friend_from_login(shop_id, identity):
    """The shop's LineFriend for a verified LINE Login identity, created when new (nothing is linked)."""
    stmt = sa.select(LineFriend).where(LineFriend.shop_id == shop_id, LineFriend.line_user_id == identity.user_id)
    friend = db.session.scalars(stmt).first()
    if friend is None:
        try:
            with db.session.begin_nested():
                friend = LineFriend(
                    shop_id=shop_id, line_user_id=identity.user_id, display_name=identity.display_name,
                    picture_url=identity.picture_url,
                    # A friend of the Official Account only if LINE says so; the follow webhook has the last word.
                    followed=bool(identity.is_friend or identity.friendship_status_changed),
                )
                db.session.add(friend)
                db.session.flush()
        except IntegrityError:
            friend = db.session.scalars(stmt).one()  # the follow webhook created it meanwhile
    if not friend.display_name and identity.display_name:
        friend.display_name = identity.display_name
    if not friend.picture_url and identity.picture_url:
        friend.picture_url = identity.picture_url
    db.session.flush()
    return friend


# -- booking ----------------------------------------------------------------------------------------


def _same_person(customer, visitor):
    name = normalize_name(visitor.family_name) + normalize_name(visitor.given_name)
    kana = normalize_kana(visitor.family_name_kana) + normalize_kana(visitor.given_name_kana)
    return (name and customer.name_norm == name) or (kana and customer.kana_norm == kana)


def find_or_create_customer(shop_id, visitor, phone):
    """The customer with this phone and name, or a new one; nothing is linked to LINE here."""
    return matching_customer(shop_id, visitor, phone) or create_customer(shop_id, visitor, phone)


def matching_customer(shop_id: int, visitor: Visitor, phone) -> Customer | None:
    """The customer with this phone and name, if any."""
    candidates = db.session.scalars(
        sa.select(Customer).where(Customer.shop_id == shop_id, Customer.phone_e164 == phone.e164).order_by(Customer.id)
    ).all()
    return next((customer for customer in candidates if _same_person(customer, visitor)), None)


def create_customer(shop_id: int, visitor: Visitor, phone) -> Customer:
    """A new customer from what the visitor typed."""
    customer = Customer(
        shop_id=shop_id,
        family_name=visitor.family_name.strip(),
        given_name=visitor.given_name.strip(),
        family_name_kana=visitor.family_name_kana.strip(),
        given_name_kana=visitor.given_name_kana.strip(),
        memo="",
    )
    set_phone(customer, visitor.phone.strip(), phone)
    customer.refresh_match_keys()
    return save_customer(customer)


def _hold_units(booking, duration_minutes):
    """Insert the booking's slot units; SlotTaken when any is held by another booking."""
    try:
        with db.session.begin_nested():
            db.session.add_all(
                BookingSlot(shop_id=booking.shop_id, slot_start=unit, booking_id=booking.id)
                for unit in slots.units_of(booking.starts_at, duration_minutes)
            )
            db.session.flush()
    except IntegrityError as exc:
        raise SlotTaken() from exc  # the cause keeps the database's words for the log


def book(shop, service, starts_at, visitor, friend=None, now=None, region="JP"):
    """Book `service` at `starts_at` for the visitor; with a LINE friend, link through the matching service.

    Raises SlotUnavailable (not a free time), SlotTaken (the database refused: someone
    else holds a unit), both UserErrors, or InvalidPhone.
    """
    if service.shop_id != shop.id or not service.active:
        raise SlotUnavailable()  # not on the menu
    phone = normalize_phone(visitor.phone, region)
    if not slots.is_free(shop, service, starts_at, now=now, lead=catalog.lead_time()):
        raise SlotUnavailable()  # not a free time
    starts_at = starts_at.astimezone(timezone.utc)
    booking = Booking(
        shop_id=shop.id,
        service_id=service.id,
        service_name=service.name,
        price_yen=service.price_yen,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=service.duration_minutes),
        status=BookingStatus.BOOKED,
        source=BookingSource.LINE if friend is not None else BookingSource.WEB,
        friend_id=friend.id if friend is not None else None,
        family_name=visitor.family_name.strip(),
        given_name=visitor.given_name.strip(),
        family_name_kana=visitor.family_name_kana.strip(),
        given_name_kana=visitor.given_name_kana.strip(),
        phone=visitor.phone.strip(),
    )
    db.session.add(booking)
    db.session.flush()
    _hold_units(booking, service.duration_minutes)

    outcome = None
    customer = None
    if friend is not None:
        typed = Typed(
            visitor.family_name, visitor.given_name, visitor.phone,
            kana=visitor.family_name_kana + visitor.given_name_kana,
        )
        link = match_and_link(friend, typed, source="booking", region=region)
        outcome = link.outcome
        if outcome != Outcome.PENDING:
            customer = link.customer
            if outcome == Outcome.CREATED:
                # The matching service keeps the reading in one field; the page asked for both.
                customer.family_name_kana = visitor.family_name_kana.strip()
                customer.given_name_kana = visitor.given_name_kana.strip()
                customer.refresh_match_keys()
    if customer is None:
        # No LINE, or the link waits for the owner: booked as the page without LINE would.
        customer = matching_customer(shop.id, visitor, phone)
        if customer is None:
            customer = create_customer(shop.id, visitor, phone)
            if outcome == Outcome.PENDING:
                # Made for this request: answering it moves the booking and removes the record if left empty.
                note_made_customer(link.request, customer)
    booking.customer_id = customer.id
    db.session.flush()
    result = BookingResult(booking, customer, outcome)
    if friend is not None and result.linked:
        queue_text(friend, texts.confirmation_text(booking, shop))
    return result


def cancel(booking):
    """Cancel a booking: its units are freed at once."""
    if booking.status == BookingStatus.CANCELLED:
        return booking
    db.session.execute(sa.delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = utcnow()
    db.session.flush()
    return booking


# -- lists ------------------------------------------------------------------------------------------


@signals.customers_merging.connect
def move_bookings(keep: Customer, remove: Customer, **_: object) -> None:
    """Merge mover: the removed customer's bookings now belong to the kept one."""
    db.session.execute(
        sa.update(Booking)
        .where(Booking.customer_id == remove.id, Booking.shop_id == remove.shop_id)
        .values(customer_id=keep.id)
        .execution_options(synchronize_session="fetch")
    )


@signals.stray_customer_settling.connect
def move_friends_bookings(stray: Customer, friend_id: int, customer: Customer, **_: object) -> None:
    """Stray mover: the bookings this LINE friend made on a record kept while its link request waited."""
    db.session.execute(
        sa.update(Booking)
        .where(Booking.customer_id == stray.id, Booking.friend_id == friend_id, Booking.shop_id == stray.shop_id)
        .values(customer_id=customer.id)
        .execution_options(synchronize_session="fetch")
    )

