"""Jobs are passed as functions; rq keeps their dotted path, and old paths still resolve."""
import pytest

from crm import jobs
from crm.line_platform.sending import deliver


def recorded_job(value):
    """A module-level job for these tests."""
    recorded_job.calls.append(value)
    return value


recorded_job.calls = []


def test_a_job_function_gives_its_dotted_path():
    assert jobs.job_path(deliver) == "crm.line_platform.sending.deliver"
    assert jobs.job_path("crm.line_platform.sending.deliver") == "crm.line_platform.sending.deliver"


def test_a_function_a_worker_could_not_import_is_refused():
    with pytest.raises(ValueError):
        jobs.job_path(lambda: None)


def test_every_alias_leads_to_a_job_function():
    for old, new in jobs.ALIASES.items():
        assert old != new
        assert callable(jobs._resolve(old)), old
        assert jobs._resolve(old) is jobs._resolve(new)


def test_a_job_queued_under_an_old_path_still_runs(app, db, monkeypatch):
    monkeypatch.setitem(jobs.ALIASES, "crm.somewhere_old.recorded_job", jobs.job_path(recorded_job))
    recorded_job.calls.clear()
    with app.test_request_context():
        assert jobs.run_job("crm.somewhere_old.recorded_job", 7) == 7
    assert recorded_job.calls == [7]


def test_enqueue_after_commit_runs_the_function_after_the_commit(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MODE", "sync")
    recorded_job.calls.clear()
    jobs.enqueue_after_commit(recorded_job, "a")
    jobs.enqueue_once_after_commit(recorded_job, "b")
    jobs.enqueue_once_after_commit(recorded_job, "b")
    assert recorded_job.calls == []
    jobs.commit()
    assert recorded_job.calls == ["a", "b"]


def test_no_dotted_job_path_is_written_as_a_string_in_crm():
    """Search and refactoring follow function references, not strings."""
    import ast
    from pathlib import Path

    import crm

    calls = {"enqueue", "enqueue_at", "enqueue_after_commit", "enqueue_at_after_commit", "request_drain",
             "enqueue_once_after_commit", "Repeating", "run_job"}
    found = []
    for path in Path(crm.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in calls or name == "register":
                    for arg in list(node.args) + [k.value for k in node.keywords]:
                        for const in ast.walk(arg):
                            if isinstance(const, ast.Constant) and isinstance(const.value, str) \
                                    and const.value.startswith("crm."):
                                found.append(f"{path}:{node.lineno}: {const.value}")
    assert found == []


def test_the_paths_of_line_platform_events_py_lead_to_their_new_modules():
    """Jobs queued before events.py became drain.py / profiles.py (issue 16) still run."""
    from crm.line_platform import drain, profiles

    assert jobs._resolve("crm.line_platform.events.drain_events") is drain.drain_events
    assert jobs._resolve("crm.line_platform.events.process_event") is drain.process_event
    assert jobs._resolve("crm.line_platform.events.refresh_profile") is profiles.refresh_profile
