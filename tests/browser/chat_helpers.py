"""Shared by the chat-operations browser tests (issue 13): a salon whose customers are LINE friends
of the sandbox channel, an owner and a staff member who may send, and their browser pages."""
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from crm.customers import tags
from crm.extensions import db
from crm.shops.models import Shop
from crm.staff.models import LineSendMode, Role, Staff
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, PageProblems, sign_in

LIVE_MS = 8_000  # sending is a job after the request; the phone, the inbox and the tab poll every few seconds


@dataclass(frozen=True)
class Friend:
    """A customer of the salon linked to a sandbox LINE user who is the shop's friend."""

    customer_id: int
    friend_id: int
    name: str
    user_id: str

    @property
    def tab(self):
        return f"/customers/{self.customer_id}/line"


@dataclass(frozen=True)
class ChatSalon:
    url: str
    shop_id: int
    channel_id: str
    owner_email: str
    owner_name: str
    staff_email: str
    staff_name: str
    run: object  # LineApp.run: call a function in the app's context and commit

    def phone_url(self, sandbox, friend):
        return f"{sandbox.url}/phone/{self.channel_id}/{friend.user_id}"


@pytest.fixture
def chat_salon(line_app):
    """E2Eサロン with a staff member who sends directly (no approval)."""

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        staff = factories.make_staff(shop, line_send_mode=LineSendMode.DIRECT, name="受付 さくら")
        owner = db.session.scalars(sa.select(Staff).where(Staff.shop_id == shop.id, Staff.role == Role.OWNER)).one()
        return owner.name, staff.email, staff.name

    owner_name, staff_email, staff_name = line_app.run(seed)
    return ChatSalon(line_app.url, line_app.shop_id, line_app.channel_id, line_app.owner_email, owner_name, staff_email, staff_name,
                     line_app.run)


def add_friend(salon, line_sandbox, family_name, given_name, phone, display_name=None, tag=None):
    """A new customer (with the tag named `tag`) linked to a new sandbox user who is the shop's friend (no chat yet)."""
    user = line_sandbox.add_user(display_name=display_name or given_name)
    line_sandbox.set_friendship(salon.channel_id, user["user_id"], "friend")

    def seed():
        shop = db.session.get(Shop, salon.shop_id)
        customer = factories.make_customer(shop, family_name=family_name, given_name=given_name, phone=phone)
        friend = factories.make_friend(shop, customer, display_name=user["display_name"], line_user_id=user["user_id"])
        if tag:
            tags.add_tags(customer, tags.get_or_create_tags(shop.id, [tag]))
        return customer.id, friend.id, customer.full_name

    customer_id, friend_id, name = salon.run(seed)
    return Friend(customer_id, friend_id, name, user["user_id"])


@contextmanager
def browser_pages(browser, salon, *who, phones=()):
    """Signed-in app pages (one context each, "owner" or "staff") and sandbox phone pages of `phones`.

    JavaScript errors, CSP violations and server errors seen by the app pages fail the test."""
    contexts, pages, problems = [], [], []
    try:
        for role in who:
            context = browser.new_context(base_url=salon.url, viewport={"width": 1280, "height": 900},
                                          locale="ja-JP", timezone_id="Asia/Tokyo")
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            problems.append(PageProblems(page))
            sign_in(page, salon.owner_email if role == "owner" else salon.staff_email)
            pages.append(page)
        for url in phones:
            context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            page.goto(url)
            pages.append(page)
        yield pages
        for seen in problems:
            assert not seen.errors, seen.errors
    finally:
        for context in contexts:
            context.close()


def sent_messages(line_sandbox, salon):
    """Every message object the bot sent through the sandbox, with its recipient: [(to, message)]."""
    return [(s["to"], m) for s in line_sandbox.sent(salon.channel_id) for m in s["messages"]]


def messages_to(line_sandbox, salon, friend):
    return [m for to, m in sent_messages(line_sandbox, salon) if to == friend.user_id]


def writes(line_sandbox, salon, friend, text):
    """The friend sends a text from LINE (what the phone page's message box does)."""
    line_sandbox.text(salon.channel_id, friend.user_id, text)
