"""The yellow bar leaves out the conversation on screen, so it does not flash while the user reads it."""
import re

from tests.line_tab.test_conversation import _incoming, _linked


def _bar(client, viewing=None):
    query = {"viewing": viewing} if viewing else {}
    return client.get("/line/unread-bar", query_string=query).get_data(as_text=True)


def test_the_conversation_being_read_is_not_announced(client, auth, line_shop):
    hanako, on_screen = _linked(line_shop, "山田")
    taro, other = _linked(line_shop, "佐藤")
    auth.login(line_shop.owner)
    page = client.get(f"/customers/{hanako.id}/line").get_data(as_text=True)
    # The page's bar sends the id of the conversation on screen with every poll.
    assert re.search(r'id="yellow-bar"[^>]*hx-include="\[data-viewing-friend\]"', page)
    assert f'name="viewing" value="{on_screen.id}" data-viewing-friend' in page
    tab = client.htmx_get(f"/customers/{hanako.id}/line", "customer-tabs").get_data(as_text=True)
    assert f'value="{on_screen.id}" data-viewing-friend' in tab  # also when the tab is swapped in

    _incoming(client, line_shop, on_screen.line_user_id, 1)  # arrives while the conversation is open
    assert "yellow-bar" not in _bar(client, viewing=on_screen.id)  # before its own poll reads it: no flash
    assert "未読のLINEメッセージが1件あります（1人）" in _bar(client)  # elsewhere it is announced

    _incoming(client, line_shop, other.line_user_id, 2)
    bar = _bar(client, viewing=on_screen.id)
    assert "未読のLINEメッセージが1件あります（1人）" in bar  # only the other conversation
    assert "未読のLINEメッセージが1件あります（1人）" in _bar(client, viewing=other.id)


def test_a_conversation_set_aside_stays_in_the_bar_while_open(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    client.get(f"/customers/{customer.id}/line")
    client.post_form(f"/customers/{customer.id}/line/notify-later", {},
                     headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    assert "未読のLINEメッセージが1件" in _bar(client, viewing=friend.id)  # 後で通知 asked for it
