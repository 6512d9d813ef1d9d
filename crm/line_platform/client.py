"""line-bot-sdk v3 clients pointed at the configured LINE base URLs."""
from contextlib import contextmanager

from flask import current_app
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
)

LINE_DATA_HOST = "https://api-data.line.me"
DEFAULT_API_BASE_URL = "https://api.line.me"


def data_base_url():
    """Where content endpoints live: api-data.line.me, or the configured stand-in's base URL."""
    base = current_app.config["LINE_API_BASE_URL"].rstrip("/")
    return LINE_DATA_HOST if base == DEFAULT_API_BASE_URL else base


class _ApiClient(ApiClient):
    """The SDK's client, with the content host mapped to the configured base URL.

    The SDK hard-codes api-data.line.me for content calls; a configured
    LINE_API_BASE_URL (the sandbox) must serve those too.
    """

    def __init__(self, configuration, data_host):
        super().__init__(configuration)
        self._data_host = data_host

    def call_api(self, *args, **kwargs):
        if kwargs.get("_host") == LINE_DATA_HOST:
            kwargs["_host"] = self._data_host
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = current_app.config["LINE_API_TIMEOUT"]
        return super().call_api(*args, **kwargs)


class LineApis:
    def __init__(self, api_client):
        self.messaging = MessagingApi(api_client)
        self.blob = MessagingApiBlob(api_client)


@contextmanager
def line_apis(access_token):
    """MessagingApi and MessagingApiBlob for one channel access token."""
    configuration = Configuration(
        host=current_app.config["LINE_API_BASE_URL"].rstrip("/"), access_token=access_token
    )
    with _ApiClient(configuration, data_base_url()) as api_client:
        yield LineApis(api_client)
