"""One storage contract, run against the local disk and an S3-compatible server (moto)."""
import io
from datetime import timedelta

import pytest
import requests

from crm.storage import InvalidKey, MediaNotFound, StorageError, check_key, media_key
from crm.storage.local import LocalStorage
from crm.storage.s3 import S3Storage

MiB = 1024 * 1024


class CountingReader(io.RawIOBase):
    """A file of `size` bytes that remembers its largest read, and can break after `fail_after` bytes."""

    def __init__(self, size, fail_after=None):
        self.size, self.position, self.largest, self.fail_after = size, 0, 0, fail_after

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.fail_after is not None and self.position >= self.fail_after:
            raise OSError("the network went away")
        n = min(len(buffer), self.size - self.position)
        self.largest = max(self.largest, n)
        done = 0
        while done < n:  # each MiB is filled with its own number
            piece = min(n - done, MiB - (self.position + done) % MiB)
            buffer[done:done + piece] = bytes([(self.position + done) // MiB % 251]) * piece
            done += piece
        self.position += n
        return n


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return S3Storage(request.getfixturevalue("s3_settings"))


class TestStorageContract:
    def test_put_then_get_exists_size(self, storage):
        key = media_key(3, "100.jpg")
        assert not storage.exists(key)
        assert storage.put(key, b"\xff\xd8jpeg", "image/jpeg") == 6
        assert storage.exists(key) and storage.size(key) == 6
        assert storage.get(key) == b"\xff\xd8jpeg"

    def test_put_replaces(self, storage):
        key = media_key(3, "101.png")
        storage.put(key, b"old", "image/png")
        storage.put(key, b"newer", "image/png")
        assert storage.get(key) == b"newer" and storage.size(key) == 5

    def test_a_failed_write_leaves_the_previous_object_whole(self, storage, tmp_path):
        key = media_key(3, "102.mp4")
        storage.put(key, b"complete video", "video/mp4")
        with pytest.raises(OSError):
            storage.put(key, CountingReader(12 * MiB, fail_after=9 * MiB), "video/mp4")
        assert storage.get(key) == b"complete video"
        if isinstance(storage, LocalStorage):
            assert sorted(p.name for p in (tmp_path / "media" / "3").iterdir()) == ["102.mp4"]

    def test_large_objects_stream_in_both_directions(self, storage):
        key = media_key(4, "200.mp4")
        reader = CountingReader(9 * MiB)
        assert storage.put(key, io.BufferedReader(reader, 64 * 1024), "video/mp4") == 9 * MiB
        assert reader.largest <= 8 * MiB  # read in parts, never the whole file at once
        with storage.open(key) as stored:
            assert stored.size == stored.content_length == 9 * MiB
            stored.chunk_size = 1 * MiB
            chunks = list(stored)
        assert len(chunks) == 9 and all(len(c) == MiB for c in chunks)
        assert [c[0] for c in chunks] == list(range(9))

    def test_byte_ranges(self, storage):
        key = media_key(4, "201.m4a")
        storage.put(key, b"0123456789", "audio/mp4")
        with storage.open(key, 2, 5) as stored:
            assert (stored.size, stored.content_length, stored.start) == (10, 4, 2)
            assert b"".join(stored) == b"2345"
        with storage.open(key, 7) as stored:
            assert b"".join(stored) == b"789"

    def test_delete(self, storage):
        key = media_key(5, "300.bin")
        storage.put(key, b"x")
        storage.delete(key)
        assert not storage.exists(key)
        storage.delete(key)  # absent already: fine

    def test_missing_objects(self, storage):
        key = media_key(5, "404.jpg")
        for call in (storage.get, storage.size, storage.open):
            with pytest.raises(MediaNotFound):
                call(key)

    @pytest.mark.parametrize("key", ["../1.jpg", "1/../2.jpg", "/etc/passwd", "1/a/b.jpg", "", "1/", "x/1.jpg",
                                     "1/.hidden", "1\\..\\2.jpg", "1/a\x00.jpg"])
    def test_keys_that_are_not_media_keys_are_refused(self, storage, key):
        for call in (storage.get, storage.exists, storage.delete, lambda k: storage.put(k, b"x")):
            with pytest.raises(InvalidKey):
                call(key)

    def test_keys_are_per_shop(self, storage):
        storage.put(media_key(6, "1.jpg"), b"six")
        storage.put(media_key(7, "1.jpg"), b"seven")
        assert storage.get("6/1.jpg") == b"six" and storage.get("7/1.jpg") == b"seven"

    def test_download_url(self, storage):
        key = media_key(8, "500.jpg")
        storage.put(key, b"jpeg bytes", "image/jpeg")
        url = storage.url_for_download(key, timedelta(minutes=5), content_type="image/jpeg")
        if isinstance(storage, LocalStorage):
            assert url is None  # the app serves local files itself
            return
        assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content == b"jpeg bytes"
        assert response.headers["Content-Type"] == "image/jpeg"
        tampered = url.replace(f"/{key}", f"/{media_key(8, '501.jpg')}")
        assert requests.get(tampered, timeout=10).status_code == 403

    def test_check_passes_when_usable(self, storage):
        storage.check()


def test_media_key_sanitises_what_it_is_given():
    assert media_key(12, "../../etc/passwd") == "12/etc_passwd"
    assert media_key(12, "写真 1.jpg") == "12/1.jpg"
    assert media_key(12, "5301234567890.mp4") == "12/5301234567890.mp4"
    assert check_key(media_key(12, "a" * 500)) .startswith("12/")
    for shop_id in (0, -1, "12", True, None):
        with pytest.raises(InvalidKey):
            media_key(shop_id, "1.jpg")
    with pytest.raises(InvalidKey):
        media_key(12, "../..")
    with pytest.raises(InvalidKey):
        check_key("12/1.jpg", shop_id=13)


def test_s3_objects_carry_the_prefix_and_content_type(s3_settings, s3_bucket):
    bucket, client = s3_bucket
    S3Storage(s3_settings).put(media_key(9, "1.png"), b"png", "image/png")
    head = client.head_object(Bucket=bucket, Key="crm-test/9/1.png")
    assert head["ContentType"] == "image/png" and head["ContentLength"] == 3


def test_existing_local_files_keep_their_paths(tmp_path):
    """Files written before the storage interface (MEDIA_STORAGE_DIR/<shop>/<id><ext>) are their rows' keys."""
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "17890.jpg").write_bytes(b"from before")
    assert LocalStorage(tmp_path).get("2/17890.jpg") == b"from before"


def test_storage_error_is_one_line_naming_the_variable():
    error = StorageError("S3 bucket 'x' does not exist: check S3_BUCKET", "S3_BUCKET")
    assert error.variable == "S3_BUCKET" and "\n" not in str(error)
