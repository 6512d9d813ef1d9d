"""「配信停止」 by message: the linked customer is opted out, confirmed once, and left out of the next broadcast."""
import pytest
import sqlalchemy as sa

from crm.autoreply.opt_out import is_opt_out
from crm.conversations.models import Direction, LineMessage
from crm.customers.models import Customer
from crm.extensions import db
from tests.broadcasts.helpers import friends


def _say(client, line_shop, user_id, text, n):
    event = {"type": "message", "mode": "active", "timestamp": 1_700_000_000_000 + n,
             "webhookEventId": f"01OPTOUT{user_id[-6:]}{n:012d}", "replyToken": f"optout{n}",
             "source": {"type": "user", "userId": user_id}, "deliveryContext": {"isRedelivery": False},
             "message": {"id": f"9{n:017d}", "type": "text", "text": text}}
    assert line_shop.post_events(client, [event]).status_code == 200
    return event


@pytest.mark.parametrize("text", ["配信停止", " 配信停止 ", "配信停止\n"])
def test_keyword_forms(text):
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["配信停止して", "配信 停止", "停止", ""])
def test_not_the_keyword(text):
    assert not is_opt_out(text)


def test_the_keyword_opts_the_customer_out_and_confirms_once(client, line_shop):
    (customer, friend, user), = friends(line_shop, 1)
    event = _say(client, line_shop, user["user_id"], "配信停止", 1)
    line_shop.post_events(client, [event])  # LINE redelivers the same event: no second answer
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).broadcast_opt_out
    answers = db.session.scalars(sa.select(LineMessage).where(LineMessage.direction == Direction.OUTGOING)).all()
    assert len(answers) == 1 and "配信停止を受け付けました" in answers[0].text


def test_other_text_changes_nothing(client, line_shop):
    (customer, friend, user), = friends(line_shop, 1)
    _say(client, line_shop, user["user_id"], "配信停止したいかも", 2)
    db.session.expire_all()
    assert not db.session.get(Customer, customer.id).broadcast_opt_out
