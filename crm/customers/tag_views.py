"""Tags edited in place on the record (HTMX), the owner's tags page, and 配信停止 on the record."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.customers import blueprint, services, tags
from crm.customers.forms import TagForm
from crm.customers.info_tab import tags_context
from crm.customers.models import Customer, Tag
from crm.database import get_for_shop_or_404
from crm.extensions import htmx
from crm.staff.decorators import owner_required
from crm.staff.forms import ConfirmForm


def _tags_response(customer, new_form=None, status=200):
    if htmx:
        return render_template("customers/_tags.html", **tags_context(customer, new_form)), status
    if status >= 400:
        flash(" ".join(str(e) for errors in new_form.errors.values() for e in errors), "error")
    return redirect(url_for("customers.show", customer_id=customer.id))


@blueprint.post("/<int:customer_id>/tags")
@login_required
def customer_tag_add(customer_id):
    """Put one of the shop's tags on the customer."""
    customer = get_for_shop_or_404(Customer, customer_id)
    ConfirmForm().validate_on_submit()
    tag = get_for_shop_or_404(Tag, request.form.get("tag_id"))
    tags.add_tags(customer, [tag])
    return _tags_response(customer)


@blueprint.post("/<int:customer_id>/tags/new")
@login_required
def customer_tag_create(customer_id):
    """Create a tag inline and put it on the customer."""
    customer = get_for_shop_or_404(Customer, customer_id)
    form = TagForm(shop_id=customer.shop_id)
    if not form.validate_on_submit():
        return _tags_response(customer, form, 422)
    tag = tags.create_tag(customer.shop_id, form.name.data, form.colour.data)
    tags.add_tags(customer, [tag])
    return _tags_response(customer)


@blueprint.post("/<int:customer_id>/tags/<int:tag_id>/remove")
@login_required
def customer_tag_remove(customer_id, tag_id):
    """Take a tag off the customer."""
    customer = get_for_shop_or_404(Customer, customer_id)
    tag = get_for_shop_or_404(Tag, tag_id)
    ConfirmForm().validate_on_submit()
    tags.remove_tag(customer, tag)
    return _tags_response(customer)


@blueprint.post("/<int:customer_id>/opt-out")
@login_required
def opt_out(customer_id):
    """Set or clear 配信停止 (an explicit value, so a double click does not undo it)."""
    customer = get_for_shop_or_404(Customer, customer_id)
    ConfirmForm().validate_on_submit()
    services.set_opt_out(customer, request.form.get("opt_out") == "1")
    if htmx:
        return render_template("customers/_opt_out.html", customer=customer, delete_form=ConfirmForm())
    flash(_("配信停止にしました。") if customer.broadcast_opt_out else _("配信停止を解除しました。"), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


def _settings_page(new_form, forms=None, status=200):
    shop_tags = tags.shop_tags(current_user.shop_id)
    forms = forms or {}
    rows = [(tag, forms.get(tag.id) or TagForm(shop_id=current_user.shop_id, tag=tag, obj=tag, formdata=None))
            for tag in shop_tags]
    return render_template("customers/tags.html", rows=rows, new_form=new_form, usage=tags.tag_usage(current_user.shop_id),
                           delete_form=ConfirmForm()), status


@blueprint.route("/tags", methods=["GET", "POST"])
@owner_required
def tag_settings():
    """The owner's tags page: every tag with its customers' count; a new tag."""
    form = TagForm(shop_id=current_user.shop_id)
    if request.method == "POST":
        if not form.validate_on_submit():
            return _settings_page(form, status=422)
        tags.create_tag(current_user.shop_id, form.name.data, form.colour.data)
        flash(_("タグを追加しました。"), "success")
        return redirect(url_for("customers.tag_settings"))
    return _settings_page(TagForm(shop_id=current_user.shop_id, formdata=None))


@blueprint.post("/tags/<int:tag_id>")
@owner_required
def tag_settings_update(tag_id):
    """Rename or recolour a tag."""
    tag = get_for_shop_or_404(Tag, tag_id)
    form = TagForm(shop_id=current_user.shop_id, tag=tag)
    if not form.validate_on_submit():
        return _settings_page(TagForm(shop_id=current_user.shop_id, formdata=None), {tag.id: form}, 422)
    tags.update_tag(tag, form.name.data, form.colour.data)
    flash(_("タグ「%(name)s」を保存しました。", name=tag.name), "success")
    return redirect(url_for("customers.tag_settings"))


@blueprint.post("/tags/<int:tag_id>/delete")
@owner_required
def tag_settings_delete(tag_id):
    """Delete a tag (customers lose it; nothing else changes)."""
    tag = get_for_shop_or_404(Tag, tag_id)
    ConfirmForm().validate_on_submit()
    name = tag.name
    tags.delete_tag(tag)
    flash(_("タグ「%(name)s」を削除しました。", name=name), "success")
    return redirect(url_for("customers.tag_settings"))
