"""Triage of quarantined feedback (#17): what ``quarantine list`` shows and in what order,
and settling by source. On both backends, with a real rejected version in the registry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from admin_helpers import quarantine_rows
from movieclassifier import feedback
from movieclassifier.schema import APPROVED, DISCARDED, QUARANTINED, Feedback

# Two sources that share their first 6 hex digits, so "abcdef" is ambiguous.
FIRST = "abcdef01" + "0" * 24
SECOND = "abcdef02" + "1" * 24
ANSWERED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LONG_REVIEW = "Slow start,\nthen   a wonderful second half. " * 4
# name: (review, predicted label, its probability, answered correct?, source)
ROWS = {
    "mild": (LONG_REVIEW, "positive", 0.62, False, FIRST),
    "sure": ("The best film of the year.", "positive", 0.97, False, FIRST),
    "agreed": ("Dull and long.", "negative", 0.55, True, SECOND),
    "flipped": ("Awful acting, awful plot.", "negative", 0.91, False, SECOND),
    "legacy": ("Lovely.", "positive", 0.80, True, None),
}
# By how sure the model was of the label each answer rejects: .97, .91, .62, 1-.55, 1-.80.
RANKED = ["sure", "flipped", "mild", "agreed", "legacy"]


@dataclass
class Quarantine:
    version: int
    ids: dict[str, int]


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")


@pytest.fixture
def quarantine(sessions, seed_model, tiny_model, tiny_model_written) -> Quarantine:
    """``ROWS`` answered, learned by a version the gate rejected (0.88 -> 0.74), quarantined."""
    rejected, ids = quarantine_rows(
        sessions, seed_model, tiny_model, tiny_model_written, list(ROWS.values()), ANSWERED
    )
    return Quarantine(rejected, dict(zip(ROWS, ids, strict=True)))


def statuses(sessions, quarantine):
    with sessions() as session:
        found = {row.id: row.status for row in session.scalars(select(Feedback))}
    return {name: found[row_id] for name, row_id in quarantine.ids.items()}


def test_list_shows_every_column_most_suspect_first(runner, env, quarantine):
    result = runner.invoke(args=["quarantine", "list"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header.split()[:2] == ["id", "score"] and header.endswith("review")
    assert len(lines) == len(ROWS)  # a review's newlines are flattened: one line each
    assert [int(line.split()[0]) for line in lines] == [quarantine.ids[n] for n in RANKED]
    reason = f"v{quarantine.version}: held-out 0.8800 → 0.7400"
    sure, flipped, mild, agreed, legacy = lines
    for cell in ("0.970", "incorrect → negative", "positive 97.0%", reason, "abcdef01"):
        assert cell in sure
    assert "2026-12-01 09:30 UTC" in sure and sure.endswith("The best film of the year.")
    assert "0.910" in flipped and "incorrect → positive" in flipped and "negative 91.0%" in flipped
    assert "abcdef02" in flipped and SECOND not in flipped  # 8 digits, not the whole hash
    assert "correct → negative" in agreed and "0.450" in agreed
    assert mild.endswith("  Slow start, then a wonderful second half. Slow start, then…")
    # An answer from before sources were stored shows "-".
    cells = legacy.split()
    assert cells[cells.index("UTC") - 3] == "-"
    assert "more" not in result.output


def test_list_json_has_the_whole_rows_in_rank_order(runner, env, quarantine):
    result = runner.invoke(args=["quarantine", "list", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["total"] == len(ROWS)
    assert [row["id"] for row in found["rows"]] == [quarantine.ids[n] for n in RANKED[:3]]
    first = found["rows"][0]
    assert first == {
        "id": quarantine.ids["sure"],
        "score": pytest.approx(0.97),
        "correct": False,
        "label": "negative",
        "predicted": {"label": "positive", "probability": pytest.approx(0.97)},
        "rejected_version": quarantine.version,
        "reason": None,
        "holdout_accuracy_before": pytest.approx(0.88),
        "holdout_accuracy_after": pytest.approx(0.74),
        "source": FIRST,
        "answered_at": "2026-12-01T09:30:00+00:00",
        "review": "The best film of the year.",
    }
    assert found["rows"][2]["review"] == LONG_REVIEW  # whole, newlines kept


def test_list_says_how_many_more_there_are_beyond_the_limit(runner, env, quarantine):
    result = runner.invoke(args=["quarantine", "list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4
    assert lines[-1] == "… and 3 more; use --limit 5 to list them all"
    by_source = runner.invoke(args=["quarantine", "list", "--source", "ABCDEF02"])
    assert [int(line.split()[0]) for line in by_source.output.splitlines()[1:]] == [
        quarantine.ids["flipped"],
        quarantine.ids["agreed"],
    ]
    other = runner.invoke(args=["quarantine", "list", "--version", str(quarantine.version + 1)])
    assert other.exit_code == 0 and other.output == "no quarantined feedback\n"


def test_help_says_what_the_ranking_is(runner, env):
    result = runner.invoke(args=["quarantine", "list", "--help"])
    assert result.exit_code == 0
    assert "Most suspect first" in result.output and '"incorrect"' in result.output


def test_approve_by_source_changes_only_that_sources_rows(runner, env, sessions, quarantine):
    approved = runner.invoke(args=["quarantine", "approve", "--source", "abcdef01"])
    assert approved.exit_code == 0, approved.output
    assert "approved 2 feedback rows" in approved.output
    assert statuses(sessions, quarantine) == {
        "mild": APPROVED,
        "sure": APPROVED,
        "agreed": QUARANTINED,
        "flipped": QUARANTINED,
        "legacy": QUARANTINED,
    }
    args = ["quarantine", "discard", "--source", SECOND, "--version", str(quarantine.version)]
    discarded = runner.invoke(args=args)
    assert discarded.exit_code == 0 and "discarded 2 feedback rows" in discarded.output
    assert statuses(sessions, quarantine) == {
        "mild": APPROVED,
        "sure": APPROVED,
        "agreed": DISCARDED,
        "flipped": DISCARDED,
        "legacy": QUARANTINED,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "999999"], "feedback 999999 is not quarantined"),
        (["approve", "--source", "abcde"], 'hex digits of its hash, got "abcde"'),
        (["discard", "--source", "zzzzzz"], 'hex digits of its hash, got "zzzzzz"'),
        (["discard", "--source", "abcdef"], "source abcdef names more than one source"),
        (["approve", "--source", "ffffff"], "there is no quarantined feedback from source ffffff"),
        (["list", "--source", "abc"], 'hex digits of its hash, got "abc"'),
    ],
)
def test_a_bad_id_or_source_is_one_line_and_changes_nothing(
    runner, env, sessions, quarantine, args, message
):
    before = statuses(sessions, quarantine)
    result = runner.invoke(args=["quarantine", *args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.splitlines()) == 1
    assert statuses(sessions, quarantine) == before


def test_an_id_of_another_source_is_refused_with_the_rest(runner, env, sessions, quarantine):
    ids = [str(quarantine.ids["sure"]), str(quarantine.ids["flipped"])]
    result = runner.invoke(args=["quarantine", "approve", *ids, "--source", "abcdef01"])
    assert result.exit_code == 1
    expected = f"feedback {quarantine.ids['flipped']} is not quarantined from source abcdef01"
    assert expected in result.output
    assert set(statuses(sessions, quarantine).values()) == {QUARANTINED}


def test_triage_ranks_in_the_database_as_the_score_says(sessions, quarantine):
    with sessions() as session:
        found = feedback.triage(session, limit=2)
        everything = feedback.triage(session)
    assert found.total == len(ROWS) and [row.id for row in found.rows] == [
        quarantine.ids[n] for n in RANKED[:2]
    ]
    scores = [row.score for row in everything.rows]
    assert scores == sorted(scores, reverse=True)
    assert everything.rows[-1].source is None and everything.rows[-1].version == quarantine.version
