"""キーワード応答 pages: the rules, one rule's form, on/off, delete, and the test page."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import errors
from crm.autoreply import blueprint, previews, services
from crm.autoreply.forms import RuleForm
from crm.autoreply.matching import compile_rule, compile_rules, first_match, normalize
from crm.autoreply.models import MAX_RULES, KeywordRule
from crm.autoreply.pages import show_error, test_form
from crm.database import get_for_shop_or_404
from crm.staff.decorators import owner_required


@blueprint.get("/keywords")
@owner_required
def keywords():
    """The rules in the order they are tried, and the test box."""
    shop = current_user.shop
    text = request.args.get("text", "")
    rules = services.rules(shop.id)
    match = preview = None
    if text:
        match = first_match(compile_rules(rules), text)
        preview = previews.rule_preview(shop, match) if match is not None else None
    return render_template("autoreply/keywords.html", rules=rules, max_rules=MAX_RULES, text=text,
                           normalized=normalize(text), match=match, preview=preview)


def _rule_page(form, rule=None, status=200, error=None):
    preview = previews.rule_preview(current_user.shop, compile_rule(rule)) if rule is not None else None
    return render_template("autoreply/rule_form.html", form=form, rule=rule, form_error=error, preview=preview,
                           test_form=test_form() if rule is not None else None), status


def _save(rule):
    form = RuleForm()
    if not form.validate_on_submit():
        return _rule_page(form, rule, 422)
    errors.answer_with(lambda e: _rule_page(form, rule, 422, show_error(form, e)))
    saved = services.save_rule(rule, current_user.shop_id, name=form.name.data, keyword=form.keyword.data,
                               match_type=form.match_type.data, priority=form.priority.data,
                               enabled=form.enabled.data, reply_kind=form.reply_kind.data,
                               reply_text=form.reply_text.data or "", image_url=form.image_url.data or "")
    flash(_("キーワード応答「%(name)s」を保存しました。", name=saved.name), "success")
    return redirect(url_for("autoreply.edit_rule", rule_id=saved.id))


@blueprint.get("/keywords/new")
@owner_required
def new_rule():
    return _rule_page(RuleForm(formdata=None))


@blueprint.post("/keywords/new")
@owner_required
def create_rule():
    return _save(None)


@blueprint.get("/keywords/<int:rule_id>")
@owner_required
def edit_rule(rule_id):
    rule = get_for_shop_or_404(KeywordRule, rule_id)
    return _rule_page(RuleForm(formdata=None, obj=rule), rule)


@blueprint.post("/keywords/<int:rule_id>")
@owner_required
def update_rule(rule_id):
    return _save(get_for_shop_or_404(KeywordRule, rule_id))


@blueprint.post("/keywords/<int:rule_id>/toggle")
@owner_required
def toggle_rule(rule_id):
    rule = services.set_rule_enabled(get_for_shop_or_404(KeywordRule, rule_id),
                                     request.form.get("enabled") == "1")
    flash(_("「%(name)s」を%(state)sにしました。", name=rule.name, state=_("オン") if rule.enabled else _("オフ")),
          "success")
    return redirect(url_for("autoreply.keywords"))


@blueprint.post("/keywords/<int:rule_id>/delete")
@owner_required
def delete_rule(rule_id):
    rule = get_for_shop_or_404(KeywordRule, rule_id)
    name = rule.name
    services.delete_rule(rule)
    flash(_("「%(name)s」を削除しました。", name=name), "success")
    return redirect(url_for("autoreply.keywords"))


def rule_test_messages(rule_id, audience):
    """テスト送信 of a rule: its saved answer for the friend it goes to (「予約確認」: described)."""
    rule = get_for_shop_or_404(KeywordRule, rule_id)
    return (previews.rule_preview(current_user.shop, compile_rule(rule), audience),
            _("キーワード応答「%(name)s」", name=rule.name))
