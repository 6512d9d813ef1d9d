"""Japanese by default, English on request, and an English catalog with every string translated."""
import os

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from crm.config import BASE_DIR

EN_PO = BASE_DIR / "crm" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# The same keywords as the extract command in docs/translations.md.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def _read_catalog():
    with EN_PO.open("rb") as f:
        return read_po(f, locale="en")


def _html(response):
    return response.get_data(as_text=True)


def test_japanese_is_the_default(client):
    html = _html(client.get("/login"))
    assert '<html lang="ja">' in html
    assert "<h1>ログイン</h1>" in html
    assert "メールアドレス" in html
    assert ">English</button>" in html


def test_english_after_choosing_it(client, english):
    response = client.post_form("/language", {"lang": "en", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"

    html = _html(client.get("/login"))
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html
    assert "Email address" in html  # a lazy form label
    assert "Keep me signed in" in html
    assert "ログイン" not in html
    assert ">日本語</button>" in html

    client.post_form("/language", {"lang": "ja"})
    assert "<h1>ログイン</h1>" in _html(client.get("/login"))


def test_an_unknown_language_is_ignored(client):
    client.post_form("/language", {"lang": "fr"})
    assert '<html lang="ja">' in _html(client.get("/login"))


def test_signed_in_staff_keep_english_on_their_account(client, auth, owner, db, english):
    auth.login(owner)
    client.post_form("/language", {"lang": "en"})
    db.session.refresh(owner)
    assert owner.locale == "en"

    html = _html(client.get("/customers/"))
    assert "<h1>Customer records</h1>" in html
    assert "No customers yet." in html
    assert "顧客" not in html

    # A new session (another device) follows the account's choice.
    auth.logout()
    assert '<html lang="ja">' in _html(client.get("/login"))
    auth.login(owner)
    assert "<h1>Customer records</h1>" in _html(client.get("/customers/"))


def test_english_catalog_is_complete():
    catalog = _read_catalog()
    entries = [message for message in catalog if message.id]
    assert entries, "the English catalog is empty"
    untranslated = [message.id for message in entries if not message.string]
    fuzzy = [message.id for message in entries if message.fuzzy]
    assert not untranslated, f"untranslated in {EN_PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy in {EN_PO.name}: {fuzzy}"
    # Placeholders such as %(name)s are the same in msgid and msgstr.
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]
    assert not problems


def test_every_string_in_the_code_is_in_the_catalog():
    with (BASE_DIR / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)

    def skip_dependencies(path):
        name = os.path.basename(path)
        return not name.startswith((".", "_")) and name != "node_modules"

    in_code = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        BASE_DIR, method_map, options_map, keywords=KEYWORDS, directory_filter=skip_dependencies
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        in_code.setdefault(msgid, f"{filename}:{lineno}")
    assert in_code, "nothing was extracted: is babel.cfg right?"
    catalog = _read_catalog()
    missing = {msgid: where for msgid, where in in_code.items() if msgid not in catalog}
    assert not missing, (
        "strings missing from the English catalog (extract, update and translate: docs/translations.md): "
        f"{missing}"
    )


def test_language_chosen_before_signing_in_survives_sign_in(client, owner, english):
    from crm.extensions import db as _db

    client.post_form("/language", {"lang": "en", "next": "/login"})
    response = client.post_form("/login", {"email": owner.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert '<html lang="en">' in _html(client.get("/customers/"))
    _db.session.refresh(owner)
    assert owner.locale == "en"
