"""LINE friends not linked to a customer yet: 未連携の友だち, and one friend's conversation."""
from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from crm.conversations import friends as shop_friends
from crm.customers.services import customers_by_id
from crm.line_tab import blueprint
from crm.line_tab.conversation import conversation_of, render_conversation
from crm.linking.services import pending_requests
from crm.staff.forms import ConfirmForm


@blueprint.get("/line/friends/unlinked")
@login_required
def unlinked_friends():
    """未連携の友だち: friends not linked to a customer, with what they sent."""
    friends = shop_friends.unlinked_friends(current_user.shop_id)
    requests = pending_requests(current_user.shop_id)
    candidates = customers_by_id(current_user.shop_id, {i for r in requests for i in r.candidate_ids})
    return render_template("line_tab/unlinked.html", friends=friends, requests=requests,
                           candidates=candidates, confirm_form=ConfirmForm())


@blueprint.get("/line/friends/<int:friend_id>")
@login_required
def friend(friend_id):
    """Any friend's whole conversation (composer, drafts, 送信予約, 後で通知, export), with 顧客と連携 when unlinked.

    A linked friend's conversation is the customer's LINE tab (the same partials).
    """
    customer, friend = conversation_of(friend_id=friend_id)
    if customer is not None:
        return redirect(url_for("customers.show", customer_id=customer.id, tab="line"))
    # Opening reads it (the yellow bar leads here); rendered before the request's commit expires it.
    return render_conversation(None, friend)
