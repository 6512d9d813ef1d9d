"""The settings pages: owner only, premium, Japanese, errors beside the field, preview and テスト送信."""
import sqlalchemy as sa

from crm.autoreply import services
from crm.autoreply.models import AutoReplySettings, KeywordRule
from crm.extensions import db as _db
from crm.shops.models import Plan
from tests.autoreply.helpers import delivered, follow, friend_of
from tests.factories import make_shop, make_staff

PAGES = ["/settings/autoreply/", "/settings/autoreply/greeting", "/settings/autoreply/hours",
         "/settings/autoreply/keywords", "/settings/autoreply/keywords/new", "/settings/autoreply/reminder"]


def test_each_page_opens_for_the_owner(client, auth, owner):
    auth.login(owner)
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        assert "自動応答" in response.get_data(as_text=True)


def test_staff_and_basic_shops_are_kept_out(client, auth, shop, app, monkeypatch):
    auth.login(make_staff(shop[0]))
    assert client.get("/settings/autoreply/greeting").status_code == 302
    auth.logout()
    basic_shop, basic_owner = make_shop(plan=Plan.BASIC)
    auth.login(basic_owner)
    assert client.get("/settings/autoreply/greeting").status_code == 403


def test_greeting_saved_with_preview(client, auth, owner):
    auth.login(owner)
    data = {"greeting_enabled": "y", "bubble_1_kind": "text", "bubble_1_text": "{LINE名}さん、ようこそ{店舗名}へ",
            "bubble_2_kind": "link_card", "refollow_text": ""}
    preview = client.post_form("/settings/autoreply/greeting", {**data, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "山田 花子さん、ようこそ" in html and "顧客情報を連携する" in html
    assert client.post_form("/settings/autoreply/greeting", data).status_code == 302
    settings = _db.session.scalars(sa.select(AutoReplySettings)).one()
    assert settings.greeting_enabled and [b["kind"] for b in settings.greeting_bubbles] == ["text", "link_card"]


def test_a_bad_image_url_is_shown_beside_its_field_and_nothing_is_lost(client, auth, owner):
    auth.login(owner)
    response = client.post_form("/settings/autoreply/greeting", {
        "greeting_enabled": "y", "bubble_1_kind": "text", "bubble_1_text": "こんにちは",
        "bubble_2_kind": "image", "bubble_2_url": "http://insecure.example/a.png"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="bubble_2_url-error"' in html and "https://" in html and "こんにちは" in html


def test_hours_page_refuses_overlaps_with_the_field(client, auth, owner):
    auth.login(owner)
    response = client.post_form("/settings/autoreply/hours", {
        "away_enabled": "y", "hours_source": "custom", "away_text": "時間外です", "holiday_text": "",
        "away_window_hours": "12", "hours_1_1_opens": "10:00", "hours_1_1_closes": "14:00",
        "hours_1_2_opens": "13:00", "hours_1_2_closes": "19:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "火曜日: 時間帯が重なっています。" in html and 'value="13:00"' in html
    ok = client.post_form("/settings/autoreply/hours", {
        "away_enabled": "y", "hours_source": "custom", "away_text": "時間外です", "holiday_text": "",
        "away_window_hours": "12", "hours_1_1_opens": "10:00", "hours_1_1_closes": "12:00",
        "hours_1_2_opens": "13:00", "hours_1_2_closes": "24:00"})
    assert ok.status_code == 302
    page = client.get("/settings/autoreply/hours").get_data(as_text=True)
    assert 'value="24:00"' in page and "時間外です" in page
    assert client.post_form("/settings/autoreply/hours/closures", {
        "first_day": "2026-12-29", "last_day": "2027-01-03", "note": "年末年始"}).status_code == 302
    assert "年末年始" in client.get("/settings/autoreply/hours").get_data(as_text=True)


def test_rules_added_toggled_tested_and_deleted(client, auth, owner):
    auth.login(owner)
    response = client.post_form("/settings/autoreply/keywords/new", {
        "name": "営業時間", "keyword": "営業時間", "match_type": "contains", "priority": "3", "enabled": "y",
        "reply_kind": "text", "reply_text": "10時〜19時です"})
    assert response.status_code == 302
    rule = _db.session.scalars(sa.select(KeywordRule)).one()
    tested = client.get("/settings/autoreply/keywords", query_string={"text": "営業時間は？"}).get_data(as_text=True)
    assert "「営業時間」が返信します。" in tested and "10時〜19時です" in tested
    client.post_form(f"/settings/autoreply/keywords/{rule.id}/toggle", {"enabled": "0"})
    _db.session.refresh(rule)
    assert not rule.enabled
    tested = client.get("/settings/autoreply/keywords", query_string={"text": "営業時間は？"}).get_data(as_text=True)
    assert "一致するルールはありません" in tested
    too_long = client.post_form(f"/settings/autoreply/keywords/{rule.id}", {
        "name": "営業時間", "keyword": "営業時間", "match_type": "contains", "priority": "3",
        "reply_kind": "text", "reply_text": "あ" * 5001})
    assert too_long.status_code == 422 and 'id="reply_text-error"' in too_long.get_data(as_text=True)
    client.post_form(f"/settings/autoreply/keywords/{rule.id}/delete")
    assert _db.session.scalars(sa.select(KeywordRule)).all() == []


def test_reminder_settings_saved(client, auth, owner):
    auth.login(owner)
    assert client.post_form("/settings/autoreply/reminder", {
        "reminder_time": "19:30", "reminder_text": "{お客様名}様 明日です"}).status_code == 302
    settings = services.settings_for(owner.shop_id)
    assert not settings.reminder_enabled and settings.reminder_time.hour == 19
    assert "明日です" in client.get("/settings/autoreply/reminder").get_data(as_text=True)


def test_test_send_pushes_the_saved_greeting_to_a_sandbox_friend(client, auth, line_shop):
    user = line_shop.sandbox.add_user(display_name="テスト端末")
    follow(client, line_shop, user)
    services.save_greeting(line_shop.shop.id, True, [{"kind": "text", "text": "ようこそ{店舗名}"}], "")
    auth.login(line_shop.owner)
    page = client.get("/settings/autoreply/greeting").get_data(as_text=True)
    assert "テスト送信" in page and "テスト端末" in page
    response = client.post_form("/settings/autoreply/test-send/greeting", {
        "friend_id": str(friend_of(user).id), "next": "/settings/autoreply/greeting"})
    assert response.status_code == 302
    assert [m["text"] for _via, ms in delivered(line_shop) for m in ms] == [f"ようこそ{line_shop.shop.name}"]


def test_test_send_fills_the_recipients_name_and_sends_their_own_linking_card(client, auth, line_shop):
    from crm.linking.tokens import read_token
    from tests.line_tab.helpers import linked

    user = line_shop.sandbox.add_user(display_name="テスト端末")
    follow(client, line_shop, user)
    services.save_greeting(line_shop.shop.id, True, [{"kind": "text", "text": "{LINE名}さん、ようこそ"},
                                                      {"kind": "link_card"}], "")
    auth.login(line_shop.owner)
    client.post_form("/settings/autoreply/test-send/greeting", {
        "friend_id": str(friend_of(user).id), "next": "/settings/autoreply/greeting"})
    [(_via, [text, card])] = delivered(line_shop)
    assert text["text"] == "テスト端末さん、ようこそ"  # not the preview's sample name
    uri = card["contents"]["footer"]["contents"][0]["action"]["uri"]
    assert "example.invalid" not in uri and "/link/" in uri
    assert read_token(uri.rsplit("/", 1)[1])["f"] == friend_of(user).id  # the friend's own, working form
    # A linked friend gets no linking card, as the real greeting does.
    _customer, friend, _user = linked(line_shop, display_name="連携済み")
    client.post_form("/settings/autoreply/test-send/greeting", {
        "friend_id": str(friend.id), "next": "/settings/autoreply/greeting"})
    assert [m["type"] for m in delivered(line_shop)[-1][1]] == ["text"]


def test_test_send_refuses_a_friend_who_blocked_the_shop(client, auth, line_shop):
    user = line_shop.sandbox.add_user(display_name="ブロック済み")
    follow(client, line_shop, user)
    friend = friend_of(user)
    friend.followed = False
    _db.session.flush()
    auth.login(line_shop.owner)
    response = client.post_form("/settings/autoreply/test-send/greeting", {
        "friend_id": str(friend.id), "next": "/settings/autoreply/greeting"}, follow_redirects=True)
    assert "送信先の友だちを選んでください。" in response.get_data(as_text=True)
    assert delivered(line_shop) == []


def test_each_hours_range_has_its_own_label_and_its_error_is_tied_to_it(client, auth, owner):
    auth.login(owner)
    page = client.get("/settings/autoreply/hours").get_data(as_text=True)
    for n in (1, 2, 3):
        assert f'aria-label="火曜日 時間帯{n} 開始"' in page and f'aria-label="火曜日 時間帯{n} 終了"' in page
    response = client.post_form("/settings/autoreply/hours", {
        "away_enabled": "y", "hours_source": "custom", "away_text": "時間外です", "holiday_text": "",
        "away_window_hours": "12", "hours_2_2_opens": "18:00", "hours_2_2_closes": "10:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="hours_2_2_opens-error">水曜日: 終了は開始より後にしてください。</p>' in html
    assert 'aria-describedby="hours_2_2_opens-error"' in html and 'aria-invalid="true"' in html
