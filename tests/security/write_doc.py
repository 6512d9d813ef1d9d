"""Write docs/security.md from the URL map: .venv/bin/python -m tests.security.write_doc"""
from pathlib import Path

from crm import create_app
from crm.config import TestingConfig
from tests.security.inventory import render_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def main() -> None:
    """Render and write the doc."""
    DOC.write_text(render_doc(create_app(TestingConfig)), encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
