"""The LINE platform gateway: channel settings, webhook ingestion, sending."""
from flask import Blueprint

blueprint = Blueprint("line_platform", __name__)

# LINE's webhook is answered by crm.line_platform.ingress.WebhookIngress in front
# of the app; the rule is here so that url_for builds its URL.
blueprint.add_url_rule("/line/webhook/<key>", endpoint="webhook", build_only=True)
