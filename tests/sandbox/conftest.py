"""Shared fixtures of the sandbox's own tests: a channel, a friend, an API client."""
import pytest
import requests


class Api:
    """Calls the sandbox's LINE endpoints with a channel access token."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)


@pytest.fixture
def channel(line_sandbox, webhook_receiver):
    """A Messaging API channel whose webhook is the test's receiver."""
    return line_sandbox.add_channel(bot_name="サロン・ド・テスト", webhook_url=webhook_receiver.url)


@pytest.fixture
def friend(line_sandbox, channel):
    """A LINE user who has added the channel as a friend."""
    user = line_sandbox.add_user(display_name="佐藤 美咲", picture_url="http://127.0.0.1/p.png",
                                 status_message="よろしく")
    line_sandbox.follow(channel["channel_id"], user["user_id"])
    return user


@pytest.fixture
def api(line_sandbox, channel):
    client = Api(line_sandbox.url, channel["channel_access_token"])
    yield client
    client.session.close()
