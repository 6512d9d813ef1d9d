"""The customer's linking form (from the LINE card) and the owner's linking tools."""
import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import jobs
from crm.conversations.friends import friend_of
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import InvalidPhone
from crm.customers.services import search_customers
from crm.database import get_for_shop_or_404
from crm.errors import back_to
from crm.extensions import db, limiter
from crm.linking import blueprint, notify, services, tokens
from crm.linking.forms import LinkForm, LinkingSettingsForm, NewCustomerForm
from crm.linking.merging import merge_customers
from crm.linking.models import LinkRequest, RequestStatus
from crm.linking.strays import made_customers
from crm.shops.models import Shop
from crm.staff.decorators import owner_required
from crm.staff.forms import ConfirmForm


def _token_key():
    return "link-form:" + (request.view_args or {}).get("token", "")[-24:]


@blueprint.route("/link/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LINK_FORM_RATE_LIMIT"], key_func=_token_key, methods=["POST"])
@limiter.limit("30/hour", methods=["POST"])
def form(token):
    """顧客情報の連携: a LINE friend types 氏名 and 携帯電話番号 (public; the token names the friend)."""
    try:
        claims = tokens.read_token(token)
    except tokens.BadLinkToken as exc:
        return render_template("linking/link_invalid.html", reason=exc.reason), 400 if exc.reason == "forged" else 410
    friend = db.session.scalars(
        sa.select(LineFriend).where(LineFriend.id == claims["f"], LineFriend.shop_id == claims["s"])
    ).first()
    if friend is None:
        return render_template("linking/link_invalid.html", reason="forged"), 400
    shop = db.session.get(Shop, friend.shop_id)  # the customer sees the salon's name, not 顧客台帳
    form = LinkForm()
    if form.validate_on_submit():
        typed = services.Typed(form.family_name.data, form.given_name.data, form.phone.data)
        try:
            with jobs.savepoint():
                tokens.spend(claims)
                result = services.match_and_link(friend, typed, source=services.RICHMENU,
                                                 region=current_app.config["DEFAULT_PHONE_REGION"])
        except InvalidPhone:  # beside the field, in the form shown again
            form.phone.errors.append(_("電話番号として正しくありません（例: 090-1234-5678）。"))
        except sa.exc.IntegrityError:  # the same token submitted twice at once
            return render_template("linking/link_invalid.html", reason="used"), 410
        else:
            if result.outcome in (services.Outcome.LINKED, services.Outcome.CREATED):
                notify.confirm_linked(friend, result.customer)
            elif result.outcome == services.Outcome.PENDING:
                notify.confirm_pending(friend)
            return render_template("linking/link_done.html", outcome=result.outcome.value, shop=shop)
    return render_template("linking/link_form.html", form=form, friend=friend, shop=shop)


@blueprint.post("/line/friends/<int:friend_id>/link")
@owner_required
def link_existing(friend_id):
    """The owner links a friend to an existing customer."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    customer = get_for_shop_or_404(Customer, request.form.get("customer_id"))
    back_to(url_for("line_tab.friend", friend_id=friend.id))  # a LinkError: flashed there
    services.link_friend(friend, customer)
    notify.confirm_linked(friend, customer)
    flash(_("%(friend)s を %(name)s 様と連携しました。", friend=friend.display_name, name=customer.full_name), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


@blueprint.post("/line/friends/<int:friend_id>/customer")
@owner_required
def create_for_friend(friend_id):
    """The owner creates a customer for a friend and links them."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    form = NewCustomerForm()
    if not form.validate_on_submit():
        for field in form:
            for error in field.errors:
                flash(f"{field.label.text}: {error}", "error")
        return redirect(url_for("line_tab.friend", friend_id=friend.id))
    back_to(url_for("line_tab.friend", friend_id=friend.id))  # a LinkError: flashed there
    customer = services.create_customer_for(friend, form.family_name.data, form.given_name.data or "",
                                            form.phone.data or "")
    notify.confirm_linked(friend, customer)
    flash(_("顧客を登録し、LINEと連携しました。"), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


@blueprint.post("/link-requests/<int:request_id>/resolve")
@owner_required
def resolve(request_id):
    """The owner answers a link request: this customer, or a new record."""
    link_request = get_for_shop_or_404(LinkRequest, request_id)
    if link_request.status != RequestStatus.PENDING:
        flash(_("この連携依頼は既に処理されています。"), "error")
        return redirect(url_for("line_tab.unlinked_friends"))
    choice = request.form.get("customer_id", "")
    customer = None if choice == "new" else get_for_shop_or_404(Customer, choice)
    back_to(url_for("line_tab.unlinked_friends"))  # a LinkError: flashed there
    customer = services.resolve_request(link_request, customer, by=current_user)
    notify.confirm_linked(db.session.get(LineFriend, link_request.friend_id), customer)
    kept = [c for c in made_customers(link_request) if c.id != customer.id]
    flash(_("連携依頼を処理しました。"), "success")
    if kept:
        # The booking moved, but the record it made has its own history: offer the merge now.
        flash(_("%(other)s 様の記録には他の履歴があるため残しました。同じ方なら統合してください。",
                other=kept[0].full_name), "info")
        return redirect(url_for("linking.merge", customer_id=customer.id, q=kept[0].full_name))
    return redirect(url_for("customers.show", customer_id=customer.id))


@blueprint.post("/customers/<int:customer_id>/unlink")
@owner_required
def unlink(customer_id):
    """Undo a customer's LINE link; the friend and its messages stay under 未連携の友だち."""
    customer = get_for_shop_or_404(Customer, customer_id)
    friend = friend_of(customer)
    if friend is None:
        abort(404)
    services.unlink(friend)
    flash(_("LINE連携を解除しました。"), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


@blueprint.route("/customers/<int:customer_id>/merge", methods=["GET", "POST"])
@owner_required
def merge(customer_id):
    """Merge another customer record into this one."""
    keep = get_for_shop_or_404(Customer, customer_id)
    if request.method == "POST":
        remove = get_for_shop_or_404(Customer, request.form.get("other_id"))
        back_to(url_for("linking.merge", customer_id=keep.id))  # a LinkError: flashed there
        merge_customers(keep, remove)
        flash(_("顧客情報を統合しました。"), "success")
        return redirect(url_for("customers.show", customer_id=keep.id))
    query = request.args.get("q", "").strip()
    page = search_customers(keep.shop_id, query, per_page=20) if query else None
    return render_template("linking/merge.html", customer=keep, query=query, page=page, confirm_form=ConfirmForm())


@blueprint.post("/settings/booking/linking")
@owner_required
def save_settings():
    """The owner chooses whether rich-menu form links wait for confirmation or link at once."""
    form = LinkingSettingsForm()
    if not form.validate_on_submit():
        flash(_("連携の方法を選んでください。"), "error")
        return redirect(url_for("bookings.settings") + "#linking")
    current_user.shop.link_automatically = form.mode.data == "auto"
    flash(_("顧客情報の連携の設定を保存しました。"), "success")
    return redirect(url_for("bookings.settings") + "#linking")
