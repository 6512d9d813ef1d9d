"""Digests leave out 迷惑メッセージ friends, and give 自分の担当のみ staff their own conversations only."""
from datetime import timedelta

import sqlalchemy as sa

from crm.digests.models import Notification
from crm.digests.richmenu import desired_variants
from crm.digests.services import run_digest_tick
from crm.extensions import db as _db
from tests.digests.conftest import make_unread
from tests.digests.test_digest_tick import TOKYO_0800, salon  # noqa: F401  (fixture)


def _data(staff):
    return _db.session.scalars(sa.select(Notification.data).where(Notification.staff_id == staff.id)).all()


def test_spam_is_left_out_and_only_mine_gets_their_own(app, salon):  # noqa: F811
    shop, owner, sato, suzuki = salon
    mine = make_unread(shop, TOKYO_0800 - timedelta(hours=3), count=2, name=("山田", "花子"))
    make_unread(shop, TOKYO_0800 - timedelta(hours=2), count=1, name=("田中", "一郎"))
    spam = make_unread(shop, TOKYO_0800 - timedelta(hours=1), count=9, name=("迷惑", "太郎"))
    spam.spam_at = TOKYO_0800 - timedelta(hours=1)
    mine.assignee_id = sato.id
    sato.line_only_mine = True
    suzuki.line_only_mine = True  # nothing assigned to 鈴木: no digest for them
    _db.session.flush()

    result = run_digest_tick(TOKYO_0800)
    assert result.sends == 2  # the owner and 佐藤
    [everyone] = _data(owner)
    assert [e["name"] for e in everyone["entries"]] == ["山田 花子", "田中 一郎"] and everyone["messages"] == 3
    [own] = _data(sato)
    assert [e["name"] for e in own["entries"]] == ["山田 花子"] and own["messages"] == 2
    assert _data(suzuki) == []


def test_the_staff_menu_yellow_bar_follows_the_same_scope(app, salon):  # noqa: F811
    from crm.digests.connections import settings_for

    shop, owner, sato, _suzuki = salon
    friend = make_unread(shop, TOKYO_0800 - timedelta(hours=3))
    for staff, user in ((owner, "U" + "1" * 32), (sato, "U" + "2" * 32)):
        settings_for(staff).line_user_id = user
    sato.line_only_mine = True
    _db.session.flush()
    wanted = {staff_id: variant for staff_id, _u, _c, variant in desired_variants(TOKYO_0800)}
    assert wanted[owner.id] == "unread" and wanted[sato.id] == "normal"
    friend.assignee_id = sato.id
    _db.session.flush()
    wanted = {staff_id: variant for staff_id, _u, _c, variant in desired_variants(TOKYO_0800)}
    assert wanted[sato.id] == "unread"
    friend.spam_at = TOKYO_0800
    _db.session.flush()
    wanted = {staff_id: variant for staff_id, _u, _c, variant in desired_variants(TOKYO_0800)}
    assert wanted[owner.id] == "normal" and wanted[sato.id] == "normal"
