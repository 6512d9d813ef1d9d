"""The digest tick with a frozen clock: slots, catch-up and skip, once per (staff, date, slot), all channels."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.digests import connections, delivery, services
from crm.digests.models import (
    ChannelStatus,
    DigestRun,
    DigestSend,
    Notification,
    RunStatus,
    SendStatus,
)
from crm.digests.services import TickResult, recent_slots, run_digest_tick
from crm.extensions import db as _db
from crm.shops.models import Plan
from crm.staff.models import Role
from tests.digests.conftest import make_unread, utc
from tests.factories import make_shop, make_staff

# 2025-03-03 08:00 in Tokyo (UTC+9) is 2025-03-02 23:00 UTC; 20:00 is 11:00 UTC.
TOKYO_0800 = utc(2025, 3, 2, 23, 0)
TOKYO_2000 = utc(2025, 3, 3, 11, 0)


def _notifications(staff=None):
    stmt = sa.select(Notification).order_by(Notification.id)
    if staff is not None:
        stmt = stmt.where(Notification.staff_id == staff.id)
    return _db.session.scalars(stmt).all()


def _sends():
    return _db.session.scalars(sa.select(DigestSend).order_by(DigestSend.id)).all()


@pytest.fixture
def salon(db):
    """A Tokyo premium shop: its owner and two staff members."""
    shop, owner = make_shop(name="サロン東京")
    return shop, owner, make_staff(shop, name="佐藤"), make_staff(shop, name="鈴木")


def test_slots_are_local_times_of_each_timezone(app):
    with app.app_context():
        tokyo = recent_slots("Asia/Tokyo", TOKYO_0800 + timedelta(minutes=1))
        assert [(s.local_date.isoformat(), s.slot, s.at) for s in tokyo][-1] == ("2025-03-03", "08:00", TOKYO_0800)
        # New York in March 2025: EST (UTC-5) until the 9th, then EDT (UTC-4).
        ny = recent_slots("America/New_York", utc(2025, 3, 10, 12, 30))
        assert [(s.slot, s.at) for s in ny][-1] == ("08:00", utc(2025, 3, 10, 12, 0))
        assert [(s.slot, s.at) for s in ny][-2] == ("20:00", utc(2025, 3, 10, 0, 0))


def test_digest_at_0800_tokyo_to_owner_and_staff_on_every_channel(app, salon, notify_channel, mail):
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=10), count=3, name=("山田", "花子"))
    later = make_unread(shop, TOKYO_0800 - timedelta(hours=2), count=1, name=("田中", "一郎"))
    sato_line = notify_channel.connect(sato)

    assert run_digest_tick(TOKYO_0800 - timedelta(minutes=1)).sends == 0  # 07:59: nothing yet
    result = run_digest_tick(TOKYO_0800)
    assert (result.runs, result.sends, result.delivered) == (1, 3, 3)

    for member in (owner, sato, suzuki):
        [notification] = _notifications(member)
        data = notification.data
        assert (data["customers"], data["messages"], data["slot"], data["local_date"]) == (2, 4, "08:00", "2025-03-03")
        assert data["oldest_unread_since"] == (TOKYO_0800 - timedelta(hours=10)).isoformat()
    # LINE: only the staff member who connected their LINE
    [push] = notify_channel.pushes()
    assert push["to"] == sato_line
    text = push["messages"][0]["text"]
    assert "【サロン東京】08:00の未読LINEメッセージ" in text
    assert "未読のお客様 2人・メッセージ 4件" in text and "10時間0分待っています" in text
    assert "山田 花子 様 3件" in text and "田中 一郎 様 1件" in text
    assert f"http://127.0.0.1/customers/{later.customer_id}/line" in text
    # email to everyone (defaults on)
    assert sorted(m.envelope_to[0] for m in mail.messages) == sorted([owner.email, sato.email, suzuki.email])
    message = mail.to(owner.email)[0]
    assert message["Subject"] == "【サロン東京】08:00の未読LINEメッセージ"
    assert f"http://127.0.0.1/customers/{later.customer_id}/line" in message.get_content()
    assert all(s.status == SendStatus.SENT and s.email_status == ChannelStatus.SENT for s in _sends())

    # The next minutes send nothing more.
    for minute in range(1, 5):
        assert run_digest_tick(TOKYO_0800 + timedelta(minutes=minute)).sends == 0
    assert len(_notifications()) == 3 and len(notify_channel.pushes()) == 1 and len(mail.messages) == 3


def test_digest_at_2000_and_in_another_timezone(app, db, mail):
    tokyo, tokyo_owner = make_shop(name="東京店")
    paris, paris_owner = make_shop(name="パリ店", timezone="Europe/Paris")
    make_unread(tokyo, TOKYO_2000 - timedelta(hours=1))
    make_unread(paris, TOKYO_2000 - timedelta(hours=1))

    run_digest_tick(TOKYO_2000)  # 20:00 in Tokyo is 12:00 in Paris (UTC+1 in March)
    assert [n.data["slot"] for n in _notifications(tokyo_owner)] == ["20:00"]
    assert _notifications(paris_owner) == []

    paris_0800 = utc(2025, 3, 4, 7, 0)  # 08:00 in Paris
    run_digest_tick(paris_0800)
    [notification] = _notifications(paris_owner)
    assert (notification.data["slot"], notification.data["local_date"]) == ("08:00", "2025-03-04")
    assert "08:00" in mail.to(paris_owner.email)[0]["Subject"]
    paris_2000 = utc(2025, 3, 4, 19, 0)
    run_digest_tick(paris_2000)
    assert [n.data["slot"] for n in _notifications(paris_owner)] == ["08:00", "20:00"]


def test_no_digest_when_nothing_is_unread(app, salon, mail):
    shop, owner, *_ = salon
    result = run_digest_tick(TOKYO_0800)
    assert (result.empty, result.sends) == (1, 0)
    run = _db.session.scalars(sa.select(DigestRun).where(DigestRun.shop_id == shop.id, DigestRun.slot == "08:00")).one()
    assert run.status == RunStatus.EMPTY
    # (yesterday's 20:00, twelve hours ago, is recorded as skipped: the clock starts here)
    # A message at 08:30 waits for the 20:00 digest: the 08:00 slot was decided.
    make_unread(shop, TOKYO_0800 + timedelta(minutes=30))
    assert run_digest_tick(TOKYO_0800 + timedelta(minutes=31)).sends == 0
    assert _notifications() == [] and mail.messages == []
    assert run_digest_tick(TOKYO_2000).sends == 3


def test_notify_later_conversations_are_included_and_marked(app, salon, notify_channel):
    shop, owner, sato, _suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=30), count=1, name=("後藤", "真央"),
                notify_later=TOKYO_0800 - timedelta(hours=5))
    user = notify_channel.connect(owner)
    run_digest_tick(TOKYO_0800)
    [entry] = _notifications(owner)[0].data["entries"]
    assert entry["notify_later"] is True
    text = notify_channel.pushes(user)[0]["messages"][0]["text"]
    assert "後藤 真央 様 1件" in text and "［後で通知］" in text and "1日6時間待っています" in text


def test_two_schedulers_in_the_same_minute_send_one_digest(app, salon, notify_channel, mail):
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    user = notify_channel.connect(sato)

    # Both decide at once: the second finds every shop's slot taken (UNIQUE shop, date, slot).
    first, second = TickResult(), TickResult()
    services.decide_due_slots(TOKYO_0800, first)
    services.decide_due_slots(TOKYO_0800, second)
    assert (first.sends, second.sends) == (3, 0)
    # Both deliver: each pending digest is claimed by one of them only.
    delivery.deliver_pending(TOKYO_0800, second)
    delivery.deliver_pending(TOKYO_0800, first)
    assert second.delivered == 3 and first.delivered == 0
    # And two whole ticks more in the same minute.
    run_digest_tick(TOKYO_0800)
    run_digest_tick(TOKYO_0800)
    assert len(_notifications()) == 3
    assert len(notify_channel.pushes(user)) == 1
    assert sorted(m.envelope_to[0] for m in mail.messages) == sorted([owner.email, sato.email, suzuki.email])


def test_a_send_row_exists_once_per_staff_date_and_slot(app, salon):
    shop, owner, *_ = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    run_digest_tick(TOKYO_0800)
    send = _db.session.scalars(sa.select(DigestSend).where(DigestSend.staff_id == owner.id)).one()
    duplicate = DigestSend(shop_id=shop.id, staff_id=owner.id, run_id=send.run_id, local_date=send.local_date,
                           slot=send.slot, slot_at=send.slot_at, line_retry_key="x")
    with pytest.raises(sa.exc.IntegrityError):
        with _db.session.begin_nested():
            _db.session.add(duplicate)
            _db.session.flush()


def test_a_scheduler_that_died_mid_delivery_is_taken_over_without_sending_twice(app, salon, notify_channel, mail):
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    user = notify_channel.connect(sato)
    services.decide_due_slots(TOKYO_0800, TickResult())
    # Scheduler A claims, marks, pushes to LINE... and dies before recording anything.
    claimed = delivery._claim([s.id for s in _sends()], TOKYO_0800)
    jobs = delivery._plan_jobs(claimed, TOKYO_0800)
    _db.session.commit()
    delivery._deliver_line(jobs)
    assert len(notify_channel.pushes(user)) == 1

    # Another scheduler, within the claim lease: leaves them alone.
    assert run_digest_tick(TOKYO_0800 + timedelta(minutes=2)).delivered == 0
    # After the lease it takes them over: LINE retried with the same retry key (delivered once),
    # email not retried (it may have gone out: at most once).
    result = run_digest_tick(TOKYO_0800 + timedelta(minutes=6))
    assert result.delivered == 3
    assert len(notify_channel.pushes(user)) == 1
    assert notify_channel.sandbox.retry_keys(notify_channel.id) == {_sends()[1].line_retry_key: 1}
    _db.session.expire_all()
    sends = _sends()
    assert all(s.status == SendStatus.SENT for s in sends)
    assert {s.line_status for s in sends} == {ChannelStatus.SENT, ChannelStatus.OFF}
    assert all(s.email_status == ChannelStatus.FAILED for s in sends) and mail.messages == []
    assert len(_notifications()) == 3


def test_a_scheduler_down_from_0750_to_0930_catches_up(app, salon, mail):
    shop, owner, *_ = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    run_digest_tick(TOKYO_0800 - timedelta(minutes=10))  # 07:50, then down
    result = run_digest_tick(TOKYO_0800 + timedelta(minutes=90))  # 09:30
    assert (result.runs, result.sends, result.delivered) == (1, 3, 3)
    assert len(mail.messages) == 3


def test_a_scheduler_down_until_1100_skips_the_slot(app, salon, notify_channel, mail):
    shop, owner, sato, _suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    notify_channel.connect(sato)
    run_digest_tick(TOKYO_0800 - timedelta(minutes=10))  # 07:50, then down
    result = run_digest_tick(TOKYO_0800 + timedelta(hours=3))  # 11:00
    assert (result.skipped, result.sends) == (1, 0)
    run = _db.session.scalars(sa.select(DigestRun).where(
        DigestRun.slot == "08:00", DigestRun.local_date == TOKYO_0800.date() + timedelta(days=1))).one()
    assert run.status == RunStatus.SKIPPED
    for minute in range(1, 4):
        run_digest_tick(TOKYO_0800 + timedelta(hours=3, minutes=minute))
    assert _notifications() == [] and mail.messages == [] and notify_channel.pushes() == []
    assert run_digest_tick(TOKYO_2000).sends == 3  # the next slot is sent as usual


def test_exactly_two_hours_late_is_too_late(app, salon):
    shop, *_ = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    assert run_digest_tick(TOKYO_0800 + timedelta(minutes=119)).sends == 3
    shop2, _owner2 = make_shop()
    make_unread(shop2, TOKYO_2000 - timedelta(hours=1))
    result = run_digest_tick(TOKYO_2000 + timedelta(minutes=120))
    assert result.sends == 0
    statuses = _db.session.scalars(sa.select(DigestRun.status).where(DigestRun.slot == "20:00",
                                                                     DigestRun.slot_at == TOKYO_2000)).all()
    assert statuses == [RunStatus.SKIPPED, RunStatus.SKIPPED]


def test_a_pending_digest_found_too_late_is_skipped(app, salon, notify_channel, mail):
    shop, owner, sato, _ = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    user = notify_channel.connect(sato)
    services.decide_due_slots(TOKYO_0800, TickResult())  # decided, then the scheduler went down
    run_digest_tick(TOKYO_0800 + timedelta(hours=2, minutes=1))
    assert {s.status for s in _sends()} == {SendStatus.SKIPPED}
    assert notify_channel.pushes(user) == [] and mail.messages == []


def test_opted_out_inactive_and_email_off_staff(app, salon, mail):
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    connections.settings_for(sato).digest_opt_out = True
    connections.settings_for(suzuki).digest_email = False
    gone = make_staff(shop, name="退職")
    gone.active = False
    _db.session.flush()
    run_digest_tick(TOKYO_0800)
    assert {n.staff_id for n in _notifications()} == {owner.id, suzuki.id}
    assert [m.envelope_to for m in mail.messages] == [[owner.email]]


def test_a_basic_shop_gets_no_digest_and_a_trial_does(app, db, mail):
    basic, basic_owner = make_shop(plan=Plan.BASIC)
    trial, trial_owner = make_shop(plan=Plan.TRIAL)
    trial.plan_until = TOKYO_0800 + timedelta(days=1)
    ended, ended_owner = make_shop(plan=Plan.TRIAL)
    ended.plan_until = TOKYO_0800 - timedelta(days=1)
    for shop in (basic, trial, ended):
        make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    run_digest_tick(TOKYO_0800)
    assert {n.staff_id for n in _notifications()} == {trial_owner.id}


def test_english_for_staff_who_chose_it(app, salon, notify_channel, english):
    shop, owner, sato, _ = salon
    make_unread(shop, TOKYO_0800 - timedelta(minutes=45), count=2)
    sato.locale = "en"
    user = notify_channel.connect(sato)
    run_digest_tick(TOKYO_0800)
    text = notify_channel.pushes(user)[0]["messages"][0]["text"]
    assert "unread LINE messages" in text and "45 min" in text


def test_owner_role_does_not_matter(app, db, mail):
    shop, owner = make_shop()
    second_owner = make_staff(shop, role=Role.OWNER)
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    run_digest_tick(TOKYO_0800)
    assert {n.staff_id for n in _notifications()} == {owner.id, second_owner.id}


def test_a_line_outage_is_retried_after_the_lease_and_a_refusal_is_recorded(app, salon, notify_channel):
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=1))
    owner_line, sato_line = notify_channel.connect(owner), notify_channel.connect(sato)
    suzuki_line = notify_channel.connect(suzuki)
    notify_channel.sandbox.set_friendship(notify_channel.id, suzuki_line, status="blocked")
    notify_channel.sandbox.fault("/v2/bot/message/push", status=500, times=1)  # the owner's, the first
    run_digest_tick(TOKYO_0800)
    _db.session.expire_all()
    by_staff = {s.staff_id: s for s in _sends()}
    assert by_staff[owner.id].status == SendStatus.SENDING and by_staff[owner.id].line_status == ChannelStatus.SENDING
    assert by_staff[sato.id].status == SendStatus.SENT and by_staff[sato.id].line_status == ChannelStatus.SENT
    assert by_staff[suzuki.id].status == SendStatus.SENT and by_staff[suzuki.id].line_status == ChannelStatus.FAILED
    assert "Failed to send messages" in by_staff[suzuki.id].line_error
    run_digest_tick(TOKYO_0800 + timedelta(minutes=2))  # within the lease: left alone
    assert notify_channel.pushes(owner_line) == []
    run_digest_tick(TOKYO_0800 + timedelta(minutes=6))
    _db.session.expire_all()
    assert _db.session.get(DigestSend, by_staff[owner.id].id).line_status == ChannelStatus.SENT
    assert len(notify_channel.pushes(owner_line)) == 1 and len(notify_channel.pushes(sato_line)) == 1


def test_email_lists_at_most_the_configured_customers(app, salon, mail, monkeypatch):
    shop, owner, *_ = salon
    monkeypatch.setitem(app.config, "DIGEST_MAX_CUSTOMERS", 2)
    for i in range(4):
        make_unread(shop, TOKYO_0800 - timedelta(hours=i + 1), name=("客", f"{i}"))
    make_unread(shop, TOKYO_0800 - timedelta(hours=9), linked=False, name=("", "ゆう"))
    run_digest_tick(TOKYO_0800)
    body = mail.to(owner.email)[0].get_content()
    assert body.index("ゆうLINE（LINE・未連携）") < body.index("客 3 様")  # oldest first
    assert "/line/friends/" in body and "ほか3人" in body and "客 0 様" not in body
    assert "http://127.0.0.1/profile/notifications" in body  # how to stop them
    assert len(_notifications(owner)[0].data["entries"]) == 5  # the in-app list has them all
