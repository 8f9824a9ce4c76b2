"""GET /dashboard through the Flask test client, on both database backends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from test_stats import T0, add_answers, add_version, make_current

from movieclassifier import create_app
from movieclassifier.schema import (
    PROMOTED,
    QUARANTINED,
    REJECTED,
    ROLLED_BACK,
    RetrainRun,
)

SECRET_REVIEW = "Zyzzyva-unique-review-text: the projectionist ate my popcorn"


def count_statements(engine):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def populate(sessions, extra_versions=0):
    """Four versions (one of each status), answers, a retrain run; returns the current one."""
    with sessions.begin() as session:
        v1 = add_version(session, ROLLED_BACK, holdout=0.851, promoted_at=T0)
        for _ in range(extra_versions):
            add_version(session, REJECTED, holdout=0.5)
        add_answers(session, v1, [True, False, True, True], review=SECRET_REVIEW)
        v2 = add_version(session, REJECTED, holdout=0.612, learned=7)
        add_answers(session, v2, [False, False], status=QUARANTINED, review=SECRET_REVIEW)
        v3 = add_version(session, PROMOTED, holdout=0.873, promoted_at=T0 + timedelta(hours=2))
        make_current(session, v3)
        add_answers(session, v3, [True, None], start=T0 + timedelta(hours=3), review=SECRET_REVIEW)
        session.add(
            RetrainRun(
                started_at=datetime(2026, 11, 3, 4, 5, tzinfo=UTC),
                finished_at=datetime(2026, 11, 3, 4, 6, tzinfo=UTC),
                status="promoted",
                version=v3,
                learned=4,
                holdout_accuracy_before=0.851,
                holdout_accuracy_after=0.873,
                seconds=61.5,
                message="learned 4 labels; version 3 promoted",
            )
        )
    return v3


def text_of(html):
    """The page's visible words, without tags, on one line."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_dashboard_with_an_empty_database_and_no_model(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert "No model yet" in page
    assert "No answers yet" in page
    assert "No retrain has run yet" in page
    assert "Predictions 0 Feedback pending 0 Learned 0 Quarantined 0" in page


def test_dashboard_shows_versions_counts_retrain_and_chart(client, sessions):
    current = populate(sessions)
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(html)
    assert f"Version {current} , published 2026-11-01 14:00 UTC" in page
    assert "Held-out accuracy 87.3%; live accuracy 100.0% (1 answer)" in page
    # Counts: 8 predictions; 6 answered and 2 quarantined, 0 pending, 4 + 1 learned.
    assert "Predictions 8 Feedback pending 0 Learned 5 Quarantined 2 Discarded 0" in page
    assert (
        "v3 current promoted 87.3% 100.0% 1 of 1 answers, 2 predictions 0 test "
        "2026-11-01 12:00 UTC 2026-11-01 14:00 UTC"
    ) in page
    assert (
        "v2 rejected 61.2% 0.0% 0 of 2 answers, 2 predictions 7 test 2026-11-01 12:00 UTC —" in page
    )
    assert "v1 rolled back 85.1% 75.0% 3 of 4 answers, 4 predictions 0 test" in page
    assert "Outcome promoted Labels learned 4 Version v3 Held-out accuracy 85.1% → 87.3%" in page
    assert "learned 4 labels; version 3 promoted" in page
    # The chart: one point per answer (7), a mark for each promoted version.
    svg = re.search(r"<svg class=\"chart\".*?</svg>", html, re.S).group(0)
    assert len(re.findall(r'<circle class="point"', svg)) == 7
    assert re.findall(r'class="promotion" data-version="(\d+)"', svg) == ["1", "3"]
    assert re.search(r'<polyline class="accuracy" points="[\d., ]+"', svg)


def test_dashboard_shows_no_review_text(client, sessions):
    populate(sessions)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Zyzzyva" not in html
    assert "popcorn" not in html


def test_dashboard_queries_do_not_grow_with_versions(app, client, sessions, engine):
    """Aggregates come from SQL: ten more versions cost no more statements."""
    from movieclassifier.web import database

    populate(sessions)
    with app.app_context():
        statements = count_statements(database.get_engine())
    client.get("/dashboard")
    few = len(statements)
    with sessions.begin() as session:
        for _ in range(10):
            add_version(session, REJECTED, holdout=0.5)
    statements.clear()
    html = client.get("/dashboard").get_data(as_text=True)
    assert html.count('class="status-rejected') == 11
    assert 0 < len(statements) == few


@pytest.mark.empty_database
def test_dashboard_without_a_schema_says_so(settings):
    """A database nobody initialised yet: a clear 503 page, not a crash."""
    app = create_app(settings)
    try:
        response = app.test_client().get("/dashboard")
    finally:
        app.extensions["movieclassifier.engine"].dispose()
    assert response.status_code == 503
    assert "flask --app movieclassifier init-db" in response.get_data(as_text=True)
    # Not an outage: waiting will not fix it, so no Retry-After.
    assert "Retry-After" not in response.headers


def test_dashboard_assets_are_served_by_the_app(client):
    html = client.get("/dashboard").get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', html)
    assert {"/static/dashboard.css", "/static/dashboard.js"} <= set(assets)
    for asset in assets:
        assert asset.startswith("/static/")
        response = client.get(asset)
        assert response.status_code == 200
        assert len(response.data) > 100
        response.close()
    assert "http://" not in html and "https://" not in html


def add_run(session, status, started_at, version=None, before=None, after=None):
    session.add(
        RetrainRun(
            started_at=started_at,
            finished_at=started_at + timedelta(seconds=30),
            status=status,
            version=version,
            learned=3 if status == "promoted" else 0,
            holdout_accuracy_before=before,
            holdout_accuracy_after=after,
            seconds=30.0,
            message=f"{status} run",
        )
    )


def test_every_time_on_the_dashboard_names_its_time_zone(client, sessions):
    populate(sessions)
    html = client.get("/dashboard").get_data(as_text=True)
    times = re.findall(r'<time datetime="([^"]+)">([^<]*)</time>', html)
    assert len(times) >= 5
    for stamp, shown in times:
        assert stamp.endswith("+00:00"), stamp
        # The zone is inside the element, so the script that rewrites it in the reader's
        # zone replaces it too, and no local time ever reads "UTC".
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", shown), shown
    assert "2026-11-03 04:05 UTC" in text_of(html)


def test_last_retrain_shows_the_last_run_promotion_and_rejection(client, sessions):
    current = populate(sessions)  # its run, at 2026-11-03 04:05, promoted v3
    with sessions.begin() as session:
        rejected = add_version(session, REJECTED, holdout=0.701)
        add_run(
            session, "rejected", datetime(2026, 11, 4, 9, 30, tzinfo=UTC), rejected, 0.873, 0.701
        )
        add_run(session, "nothing_to_learn", datetime(2026, 11, 5, 7, 0, tzinfo=UTC), current)
    page = text_of(client.get("/dashboard").get_data(as_text=True))
    section = page[page.index("Last retrain") : page.index("Model versions")]
    assert "Last run 2026-11-05 07:00 UTC Outcome nothing to learn" in section
    # A promotion and a rejection are named with the time the run ended and the version.
    assert f"Last promotion 2026-11-03 04:06 UTC , v{current} held-out 85.1% → 87.3%" in section
    assert f"Last rejection 2026-11-04 09:30 UTC , v{rejected} held-out 87.3% → 70.1%" in section


def test_last_retrain_says_when_nothing_was_promoted_or_rejected_yet(client, sessions):
    with sessions.begin() as session:
        add_run(session, "nothing_to_learn", datetime(2026, 11, 5, 7, 0, tzinfo=UTC))
    page = text_of(client.get("/dashboard").get_data(as_text=True))
    assert "Last run 2026-11-05 07:00 UTC Outcome nothing to learn" in page
    assert "Last promotion none yet" in page
    assert "Last rejection none yet" in page


def test_the_versions_table_scrolls_in_a_labelled_region_with_a_hint(client, sessions):
    populate(sessions)
    html = client.get("/dashboard").get_data(as_text=True)
    versions = html[html.index('id="versions"') :]
    assert re.search(
        r'<p class="scroll-hint" id="versions-hint">[^<]*sideways[^<]*</p>\s*'
        r'<div class="scroll" role="region" aria-labelledby="versions-title" '
        r'aria-describedby="versions-hint" tabindex="0">\s*<table>',
        versions,
    )


def test_dashboard_warns_when_live_accuracy_collapses(client, sessions):
    with sessions.begin() as session:
        v1 = add_version(session, PROMOTED, holdout=0.92, promoted_at=T0)
        make_current(session, v1)
        # A few wrong answers, then good ones: no warning.
        add_answers(session, v1, [False] * 30 + [True] * 100)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="live-accuracy-collapsed"' not in html
    with sessions.begin() as session:
        add_answers(session, v1, [False] * 150)
    html = client.get("/dashboard").get_data(as_text=True)
    warning = re.search(
        r'<div class="warning" id="live-accuracy-collapsed" role="alert".*?</div>', html, re.S
    )
    assert warning
    assert text_of(warning.group(0)).startswith(
        f"Live accuracy has collapsed. Only 50 of the last 200 answers to version {v1} say it "
        "was right (25.0%), while it scores 92.0% on the held-out reviews."
    )
    assert "quarantine list" in warning.group(0)
