"""Bad storage settings: one line naming the variable to fix, from `crm check-storage` and the backends."""
import pytest

from crm.storage import StorageError, storage_from_config
from tests.storage.conftest import ACCESS_KEY, SECRET_KEY, closed_port_url


def _check(app, **config):
    """Run `flask crm check-storage` with these settings: (exit code, stdout, stderr)."""
    runner = app.test_cli_runner()
    saved = {key: app.config.get(key) for key in config}
    app.config.update(config)
    try:
        result = runner.invoke(args=["crm", "check-storage"])
    finally:
        app.config.update(saved)
    return result.exit_code, result.stdout, result.stderr


def _one_line_naming(text, variable):
    assert text.count("\n") == 1 and text.endswith("\n"), text
    assert variable in text and "Traceback" not in text, text


def test_local_storage_ok(app, tmp_path):
    code, out, err = _check(app, MEDIA_STORAGE="local", MEDIA_STORAGE_DIR=str(tmp_path / "media"))
    assert code == 0 and out == f"media storage ok: local {tmp_path / 'media'}\n" and err == ""


def test_s3_storage_ok(app, s3_app_config):
    code, out, err = _check(app)
    assert code == 0 and out == f"media storage ok: s3 s3://{s3_app_config.bucket}/crm-test/\n"


def test_unreachable_s3_endpoint(app, s3_app_config):
    code, out, err = _check(app, S3_ENDPOINT_URL=closed_port_url())
    assert code == 1 and out == ""
    _one_line_naming(err, "S3_ENDPOINT_URL")


def test_missing_bucket(app, s3_app_config):
    code, out, err = _check(app, S3_BUCKET="no-such-bucket-here")
    assert code == 1
    _one_line_naming(err, "S3_BUCKET")
    assert "no-such-bucket-here" in err and "does not exist" in err


def test_no_bucket_configured(app, s3_app_config):
    code, out, err = _check(app, S3_BUCKET=None)
    assert code == 1
    _one_line_naming(err, "S3_BUCKET")


def test_unknown_backend(app):
    code, out, err = _check(app, MEDIA_STORAGE="ftp")
    assert code == 1
    _one_line_naming(err, "MEDIA_STORAGE")


def test_local_directory_that_cannot_be_made(app, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    code, out, err = _check(app, MEDIA_STORAGE="local", MEDIA_STORAGE_DIR=str(tmp_path / "a-file" / "media"))
    assert code == 1
    _one_line_naming(err, "MEDIA_STORAGE_DIR")


def test_malformed_endpoint(app, s3_app_config):
    code, out, err = _check(app, S3_ENDPOINT_URL="not a url")
    assert code == 1
    _one_line_naming(err, "S3_ENDPOINT_URL")


def test_a_bucket_name_s3_would_refuse(s3_server):
    with pytest.raises(StorageError) as caught:
        storage_from_config({"MEDIA_STORAGE": "s3", "S3_BUCKET": "Not_A_Valid/Bucket", "S3_ENDPOINT_URL": s3_server,
                             "S3_ACCESS_KEY_ID": ACCESS_KEY, "S3_SECRET_ACCESS_KEY": SECRET_KEY}).check()
    assert caught.value.variable == "S3_BUCKET" and "S3_BUCKET" in str(caught.value)
