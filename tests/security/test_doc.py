"""docs/security.md is what the URL map and the tests' case lists give today."""
from tests.security.inventory import render_doc
from tests.security.write_doc import DOC


def test_the_security_doc_is_up_to_date(app):
    assert DOC.read_text(encoding="utf-8") == render_doc(app), \
        "docs/security.md is stale: run .venv/bin/python -m tests.security.write_doc"
