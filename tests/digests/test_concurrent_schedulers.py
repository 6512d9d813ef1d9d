"""Two schedulers ticking at the same moment, each with its own database connection and real commits."""
import threading
from datetime import timedelta

import sqlalchemy as sa

from crm.digests.models import DigestRun, DigestSend, Notification
from crm.digests.services import run_digest_tick
from crm.extensions import db as _db
from crm.shops.models import Shop
from tests.digests.conftest import make_unread, utc
from tests.factories import make_shop, make_staff

SLOT = utc(2025, 3, 2, 23, 0)  # 08:00 in Tokyo


def test_two_schedulers_at_once_send_each_digest_once(app, smtp_sink, monkeypatch):
    smtp_sink.configure(app, monkeypatch)
    with app.app_context():
        shop, owner = make_shop(name="同時実行サロン")
        make_staff(shop)
        make_staff(shop)
        make_unread(shop, SLOT - timedelta(hours=2))
        _db.session.commit()
        shop_id = shop.id
    try:
        barrier = threading.Barrier(2)
        results, errors = [], []

        def scheduler():
            with app.app_context():
                try:
                    barrier.wait(timeout=10)
                    results.append(run_digest_tick(SLOT + timedelta(seconds=5)))
                except Exception as exc:  # reported below
                    errors.append(exc)
                finally:
                    _db.session.remove()

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert sorted(r.sends for r in results) == [0, 3]
        assert sum(r.delivered for r in results) == 3
        with app.app_context():
            def count(model):
                return _db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.shop_id == shop_id))

            assert count(DigestSend) == 3 and count(Notification) == 3
            assert count(DigestRun) >= 1
        assert len(smtp_sink.messages) == 3
        assert len({m.envelope_to[0] for m in smtp_sink.messages}) == 3
    finally:
        with app.app_context():
            _db.session.execute(sa.delete(Shop).where(Shop.id == shop_id))
            _db.session.commit()
            _db.session.remove()
