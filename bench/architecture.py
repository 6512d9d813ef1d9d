"""Counts the shape of crm/: package arrows that go up, import cycles, imports hidden
in functions, commits in views, long modules.

    .venv/bin/python bench/architecture.py          # a list
    .venv/bin/python bench/architecture.py --json   # the numbers

The layer order is the one docs/architecture.md draws; tests/test_architecture.py
enforces it with the same walk (tests/architecture_walk.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.architecture_walk import measure  # noqa: E402


def main() -> None:
    """Print the counts."""
    numbers = measure(ROOT / "crm")
    if "--json" in sys.argv:
        print(json.dumps(numbers, ensure_ascii=False, indent=2))
        return
    for key, value in numbers.items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"    {item}")
        else:
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
