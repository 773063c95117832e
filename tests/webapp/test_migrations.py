"""The site's stored submissions survive its migrations with their meaning."""
from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = ("studio", "0002_thorough_and_snap_by_default"), ("studio", "0003_quick_in_place_of_thorough")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_quick_replaces_thorough_and_keeps_what_each_submission_asked_for():
    """A submission that was not thorough got the old default (125 steps, no dreams), which is now the quick box;
    a thorough one got 400 steps and 20 dreams, now the default. Back down, the reverse."""
    old = _migrate(BEFORE).get_model("studio", "Submission")
    old.objects.all().delete()
    old.objects.create(name="plain", video="v.mp4", mask="m.png", thorough=False)
    old.objects.create(name="thorough", video="v.mp4", mask="m.png", thorough=True)
    try:
        new = _migrate(AFTER).get_model("studio", "Submission")
        assert dict(new.objects.values_list("name", "quick")) == {"plain": True, "thorough": False}
        back = _migrate(BEFORE).get_model("studio", "Submission")
        assert dict(back.objects.values_list("name", "thorough")) == {"plain": False, "thorough": True}
    finally:
        _migrate(AFTER).get_model("studio", "Submission").objects.all().delete()
