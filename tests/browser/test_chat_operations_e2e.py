"""Issue 13 in Chromium, the composer: an image and a sticker sent from the LINE tab arrive on the sandbox
phone; 定型文 picked with「/」are filled from the ledger, and a placeholder without a value is never sent."""
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from crm.bookings.models import Booking, Service
from crm.extensions import db
from crm.line_tab.saved_replies import SavedReply
from tests.browser.chat_helpers import (  # noqa: F401 (fixtures)
    LIVE_MS,
    add_friend,
    browser_pages,
    chat_salon,
    messages_to,
    sent_messages,
)

pytestmark = pytest.mark.browser
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"


def _photo(path):
    """A real 1600×1200 JPEG, as a phone camera would give."""
    Image.effect_noise((1600, 1200), 60).convert("RGB").save(path, "JPEG", quality=90)
    return path.read_bytes()


def _image_loaded(page, locator):
    """Wait until the <img> has decoded a picture (its natural size is known)."""
    locator.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=locator.element_handle(),
                           timeout=LIVE_MS)


def test_an_image_chosen_in_the_composer_reaches_the_phone(browser, chat_salon, line_sandbox, tmp_path):
    hanako = add_friend(chat_salon, line_sandbox, "山田", "花子", "090-5555-0101", display_name="はなこ🌸")
    photo = _photo(tmp_path / "仕上がり.jpg")
    with browser_pages(browser, chat_salon, "owner", phones=[chat_salon.phone_url(line_sandbox, hanako)]) as (owner, phone):
        owner.goto(hanako.tab)
        expect(owner.get_by_role("button", name="画像を外す")).to_be_hidden()  # nothing chosen yet
        owner.get_by_label("画像を選ぶ（JPEG・PNG、10 MBまで）").set_input_files(str(tmp_path / "仕上がり.jpg"))
        # The chosen image is previewed before sending, and can still be taken off.
        _image_loaded(owner, owner.get_by_alt_text("送信する画像"))
        expect(owner.locator("[data-image-name]")).to_contain_text("仕上がり.jpg")
        owner.get_by_label("メッセージ", exact=True).fill("本日の仕上がりです。ありがとうございました！")
        owner.get_by_role("button", name="送信", exact=True).click()

        sent = owner.locator(".msg-out", has=owner.locator("img.msg-image"))
        _image_loaded(owner, sent.locator("img.msg-image"))
        expect(owner.locator(".msg-out .msg-text", has_text="本日の仕上がりです。")).to_be_visible()
        expect(owner.get_by_role("button", name="画像を外す")).to_be_hidden()  # the composer is empty again

        # The phone fetched the image from the URL LINE was given, as LINE's app does.
        _image_loaded(phone, phone.locator(".row--bot .bubble--image img"))
        expect(phone.locator(".row--bot .bubble", has_text="本日の仕上がりです。ありがとうございました！")).to_be_visible()
        expect(phone.locator(".media-error")).to_have_count(0)

        image, text = messages_to(line_sandbox, chat_salon, hanako)
        assert text == {"type": "text", "text": "本日の仕上がりです。ありがとうございました！"}
        assert image["type"] == "image" and image["originalContentUrl"] != image["previewImageUrl"]
        original = requests.get(image["originalContentUrl"], timeout=10)  # no cookie: as LINE fetches it
        preview = requests.get(image["previewImageUrl"], timeout=10)
        assert (original.status_code, original.headers["Content-Type"], original.content) == (200, "image/jpeg", photo)
        assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg"
        small = Image.open(io.BytesIO(preview.content))
        assert small.format == "JPEG" and max(small.size) < 1600
        expect(sent.locator(".status-sent")).to_have_text("送信済み", timeout=LIVE_MS)


def test_a_sticker_from_the_picker_reaches_the_phone(browser, chat_salon, line_sandbox):
    ken = add_friend(chat_salon, line_sandbox, "高橋", "健", "090-5555-0102")
    with browser_pages(browser, chat_salon, "staff", phones=[chat_salon.phone_url(line_sandbox, ken)]) as (staff, phone):
        staff.goto(ken.tab)
        staff.locator("[data-sticker-box] summary").click()
        picker = staff.locator("#sticker-picker")
        expect(picker).to_contain_text("LINE Developers")  # the list's source
        package = picker.locator("details.sticker-package", has_text="(789)")
        package.locator("summary").click()  # packages after the first start closed
        package.get_by_role("button", name="OK 789-10858").click()

        message = staff.locator(".msg-out", has=staff.locator(".msg-sticker"))
        expect(message.locator(".msg-sticker")).to_contain_text("OK")
        expect(message.locator(".msg-sticker")).to_contain_text("789-10858")
        expect(message.locator(".msg-sender")).to_have_text(chat_salon.staff_name)
        expect(phone.locator(".row--bot .bubble--sticker")).to_contain_text("OK (789/10858)", timeout=LIVE_MS)
        assert messages_to(line_sandbox, chat_salon, ken) == [{"type": "sticker", "packageId": "789", "stickerId": "10858"}]
        expect(message.locator(".status-sent")).to_have_text("送信済み", timeout=LIVE_MS)


@pytest.fixture
def saved_replies(chat_salon):
    def seed():
        for title, body in (("予約確認", "{お客様名}様、{店舗名}です。次回のご予約は{次回予約}です。"),
                            ("お礼", "{お客様名}様、本日はご来店ありがとうございました。")):
            db.session.add(SavedReply(shop_id=chat_salon.shop_id, title=title, body=body))

    chat_salon.run(seed)


def _book(salon, friend, days_ahead):
    """A カット booking of the customer at 14:00 (Tokyo) some days from today; returns its start (Tokyo)."""
    day = datetime.now(TOKYO).date() + timedelta(days=days_ahead)
    start = datetime.combine(day, time(14), tzinfo=TOKYO)

    def seed():
        service = db.session.scalars(sa.select(Service).where(Service.shop_id == salon.shop_id,
                                                              Service.name == "カット")).one()
        db.session.add(Booking(shop_id=salon.shop_id, customer_id=friend.customer_id, service_id=service.id,
                               service_name="カット", price_yen=4400, starts_at=start, ends_at=start + timedelta(hours=1),
                               family_name=friend.name.split()[0], phone="09055550103"))

    salon.run(seed)
    return start


def test_a_saved_reply_is_filled_from_the_ledger(browser, chat_salon, line_sandbox, saved_replies):
    keiko = add_friend(chat_salon, line_sandbox, "鈴木", "恵子", "090-5555-0103")
    start = _book(chat_salon, keiko, 10)
    with browser_pages(browser, chat_salon, "owner", phones=[chat_salon.phone_url(line_sandbox, keiko)]) as (owner, phone):
        owner.goto(keiko.tab)
        composer = owner.get_by_label("メッセージ", exact=True)
        picker = owner.get_by_role("listbox", name="定型文")
        composer.press_sequentially("/")
        expect(picker.get_by_role("option")).to_have_count(2)
        composer.press_sequentially("予約")  # filtered as you type
        expect(picker.get_by_role("option")).to_have_count(1)
        expect(picker.get_by_role("option")).to_contain_text("予約確認")
        composer.press("Enter")  # Enter picks; it does not send

        booking = f"{start.month}月{start.day}日({WEEKDAYS[start.weekday()]}) 14:00 カット"
        filled = f"鈴木 恵子様、E2Eサロンです。次回のご予約は{booking}です。"
        expect(composer).to_have_value(filled)
        expect(picker).to_be_hidden()
        expect(owner.locator("[data-picker-missing]")).to_be_hidden()
        assert messages_to(line_sandbox, chat_salon, keiko) == []
        composer.press("Enter")
        expect(phone.locator(".row--bot .bubble", has_text=filled)).to_be_visible(timeout=LIVE_MS)
        assert messages_to(line_sandbox, chat_salon, keiko) == [{"type": "text", "text": filled}]


def test_a_placeholder_without_a_value_is_shown_and_never_sent(browser, chat_salon, line_sandbox, saved_replies):
    ken = add_friend(chat_salon, line_sandbox, "渡辺", "健", "090-5555-0104")  # no booking: no {次回予約}
    with browser_pages(browser, chat_salon, "staff", phones=[chat_salon.phone_url(line_sandbox, ken)]) as (staff, phone):
        staff.goto(ken.tab)
        composer = staff.get_by_label("メッセージ", exact=True)
        composer.press_sequentially("/")
        option = staff.get_by_role("listbox", name="定型文").get_by_role("option", name="予約確認")
        expect(option).to_contain_text("{次回予約}")  # the picker says what is missing
        option.click()
        unfilled = "渡辺 健様、E2Eサロンです。次回のご予約は{次回予約}です。"
        expect(composer).to_have_value(unfilled)
        warning = staff.locator("[data-picker-missing]")
        expect(warning).to_have_text("次の項目に入る情報がありません。書き換えてから送信してください: {次回予約}")

        # Sending anyway is refused by the server; the text stays to be rewritten.
        staff.get_by_role("button", name="送信", exact=True).click()
        expect(staff.locator("[data-composer-error]")).to_have_text(
            "{次回予約} に入る情報がありません。書き換えてから送信してください。")
        expect(composer).to_have_value(unfilled)
        assert messages_to(line_sandbox, chat_salon, ken) == []

        composer.fill(unfilled.replace("{次回予約}", "まだ決まっていません"))
        expect(warning).to_be_hidden()
        composer.press("Enter")
        expect(phone.locator(".row--bot .bubble", has_text="まだ決まっていません")).to_be_visible(timeout=LIVE_MS)
        assert [m["text"] for m in messages_to(line_sandbox, chat_salon, ken)] == [
            "渡辺 健様、E2Eサロンです。次回のご予約はまだ決まっていませんです。"]
        assert not any("{" in m.get("text", "") for _to, m in sent_messages(line_sandbox, chat_salon))
