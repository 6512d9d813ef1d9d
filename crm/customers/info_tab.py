"""The ledger's own tab of a customer's record: 顧客情報."""
from flask_babel import lazy_gettext as _l

from crm.customers import tabs
from crm.staff.forms import ConfirmForm

tabs.register(tabs.CustomerTab(
    key="info", label=lambda: str(_l("顧客情報")), order=10, template="customers/_tab_info.html",
))


@tabs.shared_context
def _delete_form(customer):
    # The record's 削除 button and each booking row's 取り消す share one CSRF-carrying form.
    return {"delete_form": ConfirmForm()}
