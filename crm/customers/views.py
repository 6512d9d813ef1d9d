"""Ledger pages: list and search, detail tabs, add, edit, delete."""
from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.customers import blueprint, services, tabs, tags
from crm.customers.forms import CustomerForm
from crm.customers.models import Customer, Tag
from crm.database import get_for_shop_or_404
from crm.extensions import htmx
from crm.staff.forms import ConfirmForm


def _vary(response):
    # One URL serves a whole page and an HTMX fragment: caches must tell them apart.
    response = make_response(response)
    response.vary.add("HX-Request")
    return response


@blueprint.get("/")
@login_required
def index():
    """The ledger: search as you type, sort, paginate."""
    query = request.args.get("q", "").strip()
    sort = request.args.get("sort", services.DEFAULT_SORT)
    if sort not in services.SORTS:
        sort = services.DEFAULT_SORT
    page_number = request.args.get("page", 1, type=int) or 1
    # Another shop's tag (or a made-up id) answers 404, like every other shop-owned id.
    tag_filter = get_for_shop_or_404(Tag, request.args["tag"]) if request.args.get("tag") else None
    page = services.search_customers(
        current_user.shop_id,
        query,
        sort=sort,
        page=page_number,
        per_page=current_app.config["CUSTOMERS_PER_PAGE"],
        region=current_app.config["DEFAULT_PHONE_REGION"],
        tag_id=tag_filter.id if tag_filter else None,
    )
    customer_tags = tags.tags_for_customers(current_user.shop_id, [c.id for c in page.items])
    context = dict(page=page, query=query, sort=sort, tag_filter=tag_filter, customer_tags=customer_tags)
    if htmx and htmx.target == "customer-results":
        return _vary(render_template("customers/_results.html", **context))
    return _vary(render_template("customers/index.html", shop_tags=tags.shop_tags(current_user.shop_id), **context))


def _render_customer_form(form, customer, duplicate, status=200):
    return (
        render_template("customers/form.html", form=form, customer=customer, duplicate=duplicate),
        status,
    )


def _save_from_form(form, customer):
    """Validate, warn on a duplicate phone, save. Returns a response or None to re-render."""
    if not form.validate_on_submit():
        return None, None
    duplicate = services.find_phone_duplicate(
        current_user.shop_id, form.parsed_phone.e164 if form.parsed_phone else None, exclude_id=customer.id
    )
    if duplicate is not None and not form.confirm_duplicate.data:
        form.phone.errors.append(_("この電話番号の顧客が既に登録されています。"))
        return None, duplicate
    services.apply_form(customer, form)
    services.save_customer(customer)
    return redirect(url_for("customers.show", customer_id=customer.id)), None


@blueprint.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a customer."""
    form = CustomerForm()
    customer = Customer(shop_id=current_user.shop_id)
    response, duplicate = _save_from_form(form, customer)
    if response is not None:
        flash(_("顧客を登録しました。"), "success")
        return response
    status = 422 if request.method == "POST" else 200
    return _render_customer_form(form, None, duplicate, status)


@blueprint.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(customer_id):
    """Edit a customer."""
    customer = get_for_shop_or_404(Customer, customer_id)
    form = CustomerForm(obj=customer)
    response, duplicate = _save_from_form(form, customer)
    if response is not None:
        flash(_("顧客情報を保存しました。"), "success")
        return response
    status = 422 if request.method == "POST" else 200
    return _render_customer_form(form, customer, duplicate, status)


@blueprint.post("/<int:customer_id>/delete")
@login_required
def delete(customer_id):
    """Delete a customer (its LINE friend stays, unlinked)."""
    customer = get_for_shop_or_404(Customer, customer_id)
    ConfirmForm().validate_on_submit()
    name = customer.full_name
    services.delete_customer(customer)
    flash(_("%(name)s 様を削除しました。", name=name), "success")
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("customers.index")
        return response
    return redirect(url_for("customers.index"))


@blueprint.get("/<int:customer_id>", defaults={"tab": "info"})
@blueprint.get("/<int:customer_id>/<tab>")
@login_required
def show(customer_id, tab):
    """A customer's record with the tabs the domains registered (顧客情報, LINE, 予約)."""
    customer = get_for_shop_or_404(Customer, customer_id)
    context = tabs.page_context(customer, tab)
    template = "customers/_tabs.html" if htmx and htmx.target == "customer-tabs" else "customers/show.html"
    # Opening the LINE tab read the conversation; the request's commit comes after
    # rendering, so the page is not rendered from objects it expired (a query per message).
    return _vary(render_template(template, **context))
