"""Writing a benchmark's section of docs/benchmarks.md, leaving the other sections as they are."""
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(title, section, docs=DOCS):
    """Replace the section headed `title` (a "## ..." line) with `section`, or append it."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
