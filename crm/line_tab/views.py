"""Sending from a customer's LINE tab."""
from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from crm import jobs
from crm.customers.models import Customer
from crm.customers.services import friend_of
from crm.database import get_for_shop_or_404
from crm.extensions import htmx
from crm.line_platform.sending import SendRefused, queue_text
from crm.line_platform.services import recent_messages
from crm.line_tab import blueprint
from crm.staff.forms import ConfirmForm


def line_tab_context(customer, friend, **extra):
    """What templates/customers/_tabs.html needs to show the LINE tab."""
    return dict(customer=customer, friend=friend, tab="line", delete_form=ConfirmForm(),
                messages=recent_messages(friend), **extra)


@blueprint.post("/customers/<int:customer_id>/line/messages")
@login_required
def send(customer_id):
    """Send a text message to the customer's LINE now."""
    customer = get_for_shop_or_404(Customer, customer_id)
    friend = friend_of(customer)
    if friend is None:
        abort(404)
    if not current_user.may_send_line_directly:
        abort(403)
    text = request.form.get("text", "")
    try:
        queue_text(friend, text, sender=current_user)
    except SendRefused as exc:
        jobs.rollback()
        context = line_tab_context(customer, friend, composer_text=text, composer_error=str(exc))
        template = "customers/_tabs.html" if htmx else "customers/show.html"
        return render_template(template, **context), 422
    jobs.commit()
    if htmx:
        return render_template("customers/_tabs.html", **line_tab_context(customer, friend))
    return redirect(url_for("customers.show", customer_id=customer.id, tab="line"))
