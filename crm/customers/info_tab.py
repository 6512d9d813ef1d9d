"""The ledger's own tab of a customer's record: 顧客情報."""
from flask_babel import lazy_gettext as _l

from crm.customers import tabs, tags
from crm.customers.forms import TagForm
from crm.staff.forms import ConfirmForm


def tags_context(customer, new_form=None):
    """What customers/_tags.html needs: the customer's tags, the shop's others, the new-tag form."""
    mine = tags.tags_for_customers(customer.shop_id, [customer.id]).get(customer.id, [])
    have = {t.id for t in mine}
    others = [t for t in tags.shop_tags(customer.shop_id) if t.id not in have]
    return dict(customer=customer, customer_tags=mine, other_tags=others,
                new_tag_form=new_form or TagForm(shop_id=customer.shop_id, formdata=None))


def _info_context(customer, context):
    # The tags editor and 配信停止 on the record (their routes: crm/customers/tag_views.py).
    return tags_context(customer)


tabs.register(tabs.CustomerTab(
    key="info", label=lambda: str(_l("顧客情報")), order=10, template="customers/_tab_info.html",
    context=_info_context,
))


@tabs.shared_context
def _delete_form(customer):
    # The record's 削除 button and each booking row's 取り消す share one CSRF-carrying form.
    return {"delete_form": ConfirmForm()}
