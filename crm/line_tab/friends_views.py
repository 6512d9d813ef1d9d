"""LINE friends not linked to a customer yet: 未連携の友だち, and one friend's conversation."""
from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required

from crm.conversations import friends as shop_friends
from crm.conversations import paging, read_state
from crm.conversations.models import LineFriend
from crm.conversations.search import window_around
from crm.customers.services import customers_by_id, search_customers
from crm.database import get_for_shop_or_404
from crm.line_tab import blueprint
from crm.linking.forms import NewCustomerForm
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
    """One friend's messages (for friends not linked to a customer yet)."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    if friend.customer_id is not None:
        return redirect(url_for("customers.show", customer_id=friend.customer_id, tab="line"))
    read_state.mark_read(friend, current_user)  # the yellow bar leads here for unlinked friends
    at = request.args.get("at", type=int)
    page = (window_around(friend, at, size=50) if at else None) or paging.page(friend, size=50)
    query = request.args.get("q", "").strip()
    candidates = search_customers(friend.shop_id, query, per_page=10).items if query else []
    # Rendered before the request's commit expires what it shows, as the LINE tab is.
    return render_template("line_tab/friend.html", friend=friend, messages=page.messages, query=query,
                           focus_id=getattr(page, "focus_id", None), page=page,
                           candidates=candidates, new_form=NewCustomerForm(), confirm_form=ConfirmForm())
