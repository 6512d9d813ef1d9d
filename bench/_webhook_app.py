"""The two WSGI apps bench/webhook.py serves with gunicorn (same settings for both).

    gunicorn 'bench._webhook_app:crm_app()'   # the CRM, configured from the environment
    gunicorn 'bench._webhook_app:bare_app()'  # a bare Flask app: POST /line/webhook/<key> -> 200
"""


def crm_app():
    """The real app; DATABASE_URL, CRM_ENV, SECRET_KEY, CREDENTIALS_KEYS, JOBS_MODE, REDIS_URL from env."""
    from crm import create_app

    return create_app()


def bare_app():
    """The baseline: Flask routing and a JSON 200, nothing else."""
    from flask import Flask

    app = Flask(__name__)

    @app.post("/line/webhook/<key>")
    def webhook(key):
        return {}, 200

    @app.get("/")
    def index():
        return "ok"

    return app
