"""The layer rule of docs/architecture.md, checked by walking crm/'s imports with ast."""
from pathlib import Path

from tests.architecture_walk import (
    LAYERS,
    arrows_up,
    commit_calls,
    imports,
    long_modules,
    module_cycles,
    package_cycles,
    package_of,
    view_modules,
)

CRM = Path(__file__).resolve().parent.parent / "crm"


def test_no_package_imports_a_higher_layer():
    assert arrows_up(imports(CRM)) == []


def test_no_import_cycles_even_counting_imports_inside_functions():
    found = imports(CRM)
    assert package_cycles(found) == []
    assert module_cycles(found) == []


def test_an_import_inside_a_function_says_why():
    hidden = [i for i in imports(CRM) if i.in_function]
    assert [f"{i.source}:{i.line}" for i in hidden if not i.reason] == []
    assert len(hidden) < 15


def test_views_never_commit():
    assert commit_calls(view_modules(CRM), CRM) == []


def test_modules_stay_under_300_lines():
    assert long_modules(CRM) == []


def test_every_package_has_a_layer():
    packages = {package_of(i.source) for i in imports(CRM)}
    placed = set().union(*LAYERS)
    assert packages - placed == set()


def test_the_walk_sees_an_arrow_going_up(tmp_path):
    """The rule can fail: a ledger module importing the LINE tab is caught."""
    crm = tmp_path / "crm"
    for package in ("customers", "line_tab"):
        (crm / package).mkdir(parents=True)
        (crm / package / "__init__.py").write_text("")
    (crm / "__init__.py").write_text("")
    (crm / "line_tab" / "views.py").write_text("X = 1\n")
    (crm / "customers" / "views.py").write_text("def f():\n    from crm.line_tab.views import X\n    return X\n")
    found = imports(crm)
    assert arrows_up(found) == ["customers → line_tab"]
    assert [i.in_function for i in found] == [True]
