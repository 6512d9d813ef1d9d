"""The repository reads nothing outside itself: a user's clone has no siblings."""
import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Text that would point at a folder beside the checkout, however it is spelled.
_OUTSIDE = re.compile(r"shared/line-spec|\"shared\"\s*/|'shared'\s*/|\.\./shared")


def _tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in out.stdout.decode().split("\0") if name]


def _scripts():
    names = _tracked("*.py", "bin/*", ".ci/*", "*.sh", "Procfile", "*.toml", "*.cfg", "*.ini")
    return [path for path in names if path.is_file() and "/line_sandbox/spec/" not in str(path)]


def test_no_file_names_a_folder_beside_the_repository():
    offenders = []
    for path in _scripts():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line) and "test_self_contained" not in path.name:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def _parents_index(node):
    # Path(__file__).resolve().parents[N] / Path(__file__).parents[N]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
            return node.slice.value
    return None


def test_no_path_climbs_above_the_repository_root():
    offenders = []
    for path in _scripts():
        if path.suffix != ".py":
            continue
        depth = len(path.relative_to(ROOT).parts) - 1  # parents[depth] is the root
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            index = _parents_index(node)
            if index is not None and "__file__" in ast.unparse(node) and index > depth:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__file__" not in node.value:
                for part in re.findall(r"(?:^|[\s\"'=/])((?:\.\./)+)", node.value):
                    if len(part) // 3 > depth:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert offenders == []
