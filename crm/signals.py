"""Signals between domains: a lower layer announces, the layers above listen.

As indico's signals and Chatwoot's listeners: the gateway never imports the
features that react to a message, and the ledger never imports the LINE code
that must forget a deleted customer. Receivers run inside the sender's
transaction; they flush, never commit.
"""
from blinker import Namespace

_signals = Namespace()

#: sender: the LineFriend; kwargs: message (LineMessage), event (LineWebhookEvent).
#: Sent after an incoming message is stored; read state, the staff rich menu and
#: automatic responses listen.
message_received = _signals.signal("message-received")

#: sender: the LineFriend whose conversation became unread or read (crm/conversations/read_state.py,
#: the one writer of unread_since). The staff rich menus follow it.
read_state_changed = _signals.signal("read-state-changed")

#: sender: the LineFriend; kwargs: data (the postback data string), event.
#: Returns (from receivers) what to answer; the first non-None answer is used.
postback_received = _signals.signal("postback-received")

#: sender: the LineFriend; kwargs: event, refollow (bool). After a follow is applied.
friend_followed = _signals.signal("friend-followed")

#: sender: the Customer, before it is deleted.
customer_deleted = _signals.signal("customer-deleted")

#: sender: the Customer kept; kwargs: remove (the Customer merged into it, deleted next).
#: Every domain with rows that belong to a customer moves them to `sender` here,
#: so a merge loses nothing.
customers_merging = _signals.signal("customers-merging")

#: sender: a stray Customer a booking made while its LINE link request waited;
#: kwargs: friend_id, customer (the one the owner chose). Domains move the rows
#: that friend made on the stray record (bookings) to `customer`.
stray_customer_settling = _signals.signal("stray-customer-settling")

#: sender: the LineFriend whose 後で通知 time (remind_at) came; kwargs: staff_id (who set it
#: aside, may be None), remind_at. Sent once per reminder, from the tick; the digests add it
#: to the staff member's notifications.
reminder_due = _signals.signal("reminder-due")
