"""A local S3-compatible server (moto in server mode) for the storage tests; never AWS itself."""
import socket
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from crm.storage.s3 import S3Settings

ACCESS_KEY, SECRET_KEY, REGION = "testing-access-key", "testing-secret-key", "us-east-1"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 on 127.0.0.1:<free port>, one per run: its endpoint URL."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def _dummy_aws_environment(monkeypatch, tmp_path):
    """Whatever the machine has, boto3 sees dummy credentials and no config files here."""
    for name, value in {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket on the local server: (name, a boto3 client to look at it)."""
    client = boto3.client("s3", endpoint_url=s3_server, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    name = f"media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name, client
    client.close()


@pytest.fixture
def s3_settings(s3_server, s3_bucket):
    return S3Settings(bucket=s3_bucket[0], endpoint_url=s3_server, region=REGION, access_key_id=ACCESS_KEY,
                      secret_access_key=SECRET_KEY, prefix="crm-test/", connect_timeout=2, read_timeout=10)


@pytest.fixture
def s3_app_config(app, monkeypatch, s3_settings):
    """Point the app at the local S3 server (MEDIA_STORAGE=s3); returns the settings."""
    for key, value in {"MEDIA_STORAGE": "s3", "S3_BUCKET": s3_settings.bucket,
                       "S3_ENDPOINT_URL": s3_settings.endpoint_url, "S3_REGION": REGION,
                       "S3_ACCESS_KEY_ID": ACCESS_KEY, "S3_SECRET_ACCESS_KEY": SECRET_KEY,
                       "S3_PREFIX": s3_settings.prefix, "S3_CONNECT_TIMEOUT": 2}.items():
        monkeypatch.setitem(app.config, key, value)
    return s3_settings


def closed_port_url():
    """An endpoint where nothing listens."""
    return f"http://127.0.0.1:{_free_port()}"
