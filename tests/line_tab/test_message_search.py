"""チャット内検索: message text and names across the shop, literal, highlighted, opening the conversation at the hit."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from crm.conversations import search
from crm.conversations.models import Direction, LineMessage
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend, make_shop

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _say(friend, text, minutes=0, direction=Direction.INCOMING):
    message = LineMessage(shop_id=friend.shop_id, friend_id=friend.id, direction=direction, message_type="text",
                          text=text, payload={}, sent_at=T + timedelta(minutes=minutes))
    _db.session.add(message)
    _db.session.flush()
    return message


def _search(client, q):
    return client.get("/line/search", query_string={"q": q}).get_data(as_text=True)


def test_finds_japanese_text_across_the_shop_and_not_other_shops(client, auth, shop):
    the_shop, owner = shop
    hanako = make_friend(the_shop, customer=make_customer(the_shop, family_name="山田", given_name="花子"))
    yumi = make_friend(the_shop, display_name="ゆみ")
    _say(hanako, "来週の予約を変更したいです", 1)
    _say(yumi, "予約の変更はできますか？", 2)
    _say(yumi, "ありがとうございます", 3)
    elsewhere = make_shop()[0]
    _say(make_friend(elsewhere), "予約の変更をお願いします", 4)
    auth.login(owner)
    html = _search(client, "変更")  # 2 characters: the LIKE fallback
    assert "山田 花子" in html and "ゆみ" in html and "お願いします" not in html
    assert "<mark>変更</mark>" in html
    html = _search(client, "予約の変更")  # 5 characters: the trigram index
    assert "できますか" in html and "変更したい" not in html and "お願いします" not in html
    assert "ありがとう" not in _search(client, "予約")


def test_names_are_found_by_line_name_customer_name_and_kana(client, auth, shop):
    the_shop, owner = shop
    customer = make_customer(the_shop, family_name="渡辺", given_name="健", family_name_kana="ワタナベ",
                             given_name_kana="ケン")
    make_friend(the_shop, customer=customer, display_name="けんちゃん")
    make_friend(the_shop, display_name="Sakura Tanaka")
    auth.login(owner)
    assert "渡辺 健" in _search(client, "渡辺")
    assert "渡辺 健" in _search(client, "わたなべ")  # kana in any script
    assert "渡辺 健" in _search(client, "けんちゃん")
    assert "Sakura Tanaka" in _search(client, "tanaka")
    assert "名前が一致する友だちはいません。" in _search(client, "存在しない")


def test_percent_and_underscore_match_themselves(client, auth, shop):
    the_shop, owner = shop
    friend = make_friend(the_shop, display_name="x")
    _say(friend, "100%オフ", 1)
    _say(friend, "100円オフ", 2)
    _say(friend, "a_b", 3)
    _say(friend, "axb", 4)
    auth.login(owner)
    html = _search(client, "100%")
    assert "100<mark>%</mark>" not in html and "<mark>100%</mark>オフ" in html and "100円" not in html
    assert "<mark>%</mark>" in _search(client, "%") and "100円" not in _search(client, "%")
    html = _search(client, "a_b")
    assert "<mark>a_b</mark>" in html and "axb" not in html
    assert "axb" not in _search(client, "_")


def test_hits_are_escaped(client, auth, shop):
    the_shop, owner = shop
    friend = make_friend(the_shop, display_name="<b>悪</b>")
    _say(friend, "<script>alert(1)</script> 予約します", 1)
    auth.login(owner)
    html = _search(client, "予約します")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>悪</b>" not in html and "&lt;b&gt;悪&lt;/b&gt;" in html
    html = _search(client, "<script>")
    assert "<mark>&lt;script&gt;</mark>" in html


def test_a_hit_opens_the_conversation_at_that_message(client, auth, shop):
    the_shop, owner = shop
    customer = make_customer(the_shop)
    friend = make_friend(the_shop, customer=customer)
    messages = [_say(friend, f"メッセージ{n:03d}", n) for n in range(100)]
    target = messages[20]
    target.text = "カラーの色味について相談"
    _db.session.flush()
    auth.login(owner)
    html = _search(client, "色味")
    assert f"/customers/{customer.id}" in html and f"at={target.id}#msg-{target.id}" in html
    page = client.get(f"/customers/{customer.id}/line", query_string={"at": target.id}).get_data(as_text=True)
    assert f'id="msg-{target.id}"' in page and "msg-focus" in page
    assert "メッセージ005" in page and "メッセージ035" in page  # the page around it
    assert "メッセージ099" not in page and "最新のメッセージへ" in page
    assert "older-sentinel" in page  # older ones still load as you scroll up

    unlinked = make_friend(the_shop, display_name="ゆみ")
    hit = _say(unlinked, "キャンセル待ち", 1)
    html = _search(client, "キャンセル待ち")
    assert f"/line/friends/{unlinked.id}?at={hit.id}#msg-{hit.id}" in html
    page = client.get(f"/line/friends/{unlinked.id}", query_string={"at": hit.id}).get_data(as_text=True)
    assert "msg-focus" in page


def test_spam_friends_and_unsent_messages_are_not_found(client, auth, shop):
    the_shop, owner = shop
    spammer = make_friend(the_shop, display_name="spam")
    spammer.spam_at = T
    _say(spammer, "激安セール開催中", 1)
    other = make_friend(the_shop, display_name="o")
    gone = _say(other, "激安セールは取り消し", 2)
    gone.unsent_at = T
    _db.session.flush()
    auth.login(owner)
    assert "「激安セール」を含むメッセージはありません。" in _search(client, "激安セール")


def test_search_is_a_fixed_number_of_queries(client, auth, shop, count_queries):
    the_shop, owner = shop
    auth.login(owner)
    counts = []
    for n in (2, 30):
        while _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage)) < n:
            i = _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage))
            friend = make_friend(the_shop, customer=make_customer(the_shop, family_name=f"客{i}"))
            _say(friend, f"予約の確認です {i}", i)
        for q in ("確認", "予約の確認"):
            with count_queries() as statements:
                assert "<mark>" in _search(client, q)
            counts.append((q, len(statements)))
    assert counts[0][1] == counts[2][1] and counts[1][1] == counts[3][1], counts


def test_the_sqlite_index_follows_edits_and_deletes(db):
    if db.engine.dialect.name != "sqlite":
        names = db.session.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'line_messages'")).all()
        assert "ix_line_messages_text_trgm" in names
        return
    triggers = set(db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    assert {"line_messages_fts_ai", "line_messages_fts_au", "line_messages_fts_ad"} <= triggers
    the_shop, _owner = make_shop()
    friend = make_friend(the_shop)
    message = _say(friend, "ハイライトカラー")
    assert [h.message.id for h in search.search_messages(the_shop.id, "ハイライト")[0]] == [message.id]
    message.text = "パーマの相談"
    _db.session.flush()
    assert search.search_messages(the_shop.id, "ハイライト")[0] == []
    assert len(search.search_messages(the_shop.id, "パーマの")[0]) == 1
    _db.session.delete(message)
    _db.session.flush()
    assert _db.session.scalar(sa.text("SELECT count(*) FROM line_messages_fts WHERE line_messages_fts MATCH '\"パーマの\"'")) == 0


def test_snippets_cut_long_text_around_the_hit():
    text = "あ" * 100 + "予約" + "い" * 100
    parts = search.segments(text, "予約")
    assert parts[0] == ("…", False) and ("予約", True) in parts and parts[-1] == ("…", False)
    assert sum(len(p) for p, _hit in parts) < 100
    assert search.segments("Hello hello", "HELLO") == [("Hello", True), (" ", False), ("hello", True)]


def test_one_and_two_character_queries_find_every_case_and_position(client, auth, shop):
    # On PostgreSQL these go through the short-gram index (crm_short_grams): the same
    # answers as a plain case-insensitive LIKE, at the start, the middle and the end.
    the_shop, owner = shop
    friend = make_friend(the_shop, display_name="ゆい")
    _say(friend, "縮毛矯正をお願いします", 1)
    _say(friend, "前回の縮毛", 2)
    _say(friend, "OK です", 3)
    _say(friend, "ありがとう", 4)
    auth.login(owner)
    html = _search(client, "縮毛")
    assert html.count("<mark>縮毛</mark>") == 2 and "ありがとう" not in html
    assert "<mark>OK</mark>" in _search(client, "ok")  # Latin letters in any case
    html = _search(client, "う")
    assert "<mark>う</mark>" in html and "縮毛矯正" not in html


def test_quotes_and_backslashes_are_searched_as_written(client, auth, shop):
    # The search words are rendered into the SQL (so PostgreSQL plans for them): quoting must hold.
    the_shop, owner = shop
    friend = make_friend(the_shop, display_name="o'brien")
    _say(friend, "it's C:\\salon\\予約 '; DROP TABLE line_messages; --", 1)
    _say(friend, "べつのメッセージ", 2)
    auth.login(owner)
    for q in ("it's", "C:\\salon", "\\", "'", "'; DROP TABLE line_messages; --"):
        html = _search(client, q)
        assert "salon" in html and "べつの" not in html, q
    assert "o&#39;brien" in _search(client, "o'b")
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage)) == 2
