import json
import logging
import re

import pytest
from sqlalchemy import select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import add_feedback
from movieclassifier import features, feedback, model_store, retrain
from movieclassifier.cli import operate, quarantine
from movieclassifier.schema import QUARANTINED, ROLLED_BACK, Feedback


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")


@pytest.fixture
def two_versions(settings, engine, sessions, seed_model):
    add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3], correct=True)
    add_feedback(sessions, settings.model_dir, NEGATIVE_REVIEWS[:1], correct=False)
    report = retrain.retrain(engine, settings)
    assert report.status == "promoted"
    return seed_model, report.version


def test_every_command_has_help():
    groups = list(quarantine.quarantine_group.commands.values())
    commands = list(operate.COMMANDS) + list(quarantine.COMMANDS) + groups
    assert all(command.help for command in commands)


def test_retrain_command_prints_what_it_did(runner, env, settings, sessions, seed_model):
    add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:2])
    result = runner.invoke(args=["retrain", "--json"])
    assert result.exit_code == 0, result.output
    assert '"status": "promoted"' in result.output and "learned 2 labels" in result.output


def test_retrain_without_a_model_says_how_to_train(runner, env, engine):
    result = runner.invoke(args=["retrain"])
    assert result.exit_code == 1
    assert "no model to retrain; run" in result.output and "train_stream.py" in result.output


def test_versions_lists_status_learned_and_live_accuracy(runner, env, two_versions):
    result = runner.invoke(args=["versions"])
    assert result.exit_code == 0, result.output
    first, second = two_versions
    lines = result.output.splitlines()
    assert lines[1].startswith(f"*{second}") and "feedback" in lines[1]
    # Version 1 served 4 predictions with feedback, 3 of them correct.
    assert lines[2].startswith(f" {first}") and "0.7500 (4)" in lines[2]


def test_rollback_makes_an_earlier_version_current(runner, env, sessions, two_versions):
    first, second = two_versions
    result = runner.invoke(args=["rollback", str(first)])
    assert result.exit_code == 0, result.output
    assert f"version {first} is current; rolled back: {second}" in result.output
    with sessions() as session:
        assert model_store.current_version(session) == first
        assert model_store.get_version(session, second).status == ROLLED_BACK
    again = runner.invoke(args=["rollback", str(first)])
    assert again.exit_code == 1 and "already current" in again.output
    missing = runner.invoke(args=["rollback", "99"])
    assert missing.exit_code == 1 and "there is no model version 99" in missing.output


def test_prune_never_drops_the_current_version_nor_its_base(
    runner, env, settings, sessions, two_versions
):
    first, second = two_versions
    result = runner.invoke(args=["prune", "--keep", "1"])
    assert result.exit_code == 0, result.output
    assert "pruned versions: none" in result.output  # the current one and its base stay
    with sessions() as session:
        model_store.load(session, first, settings.model_dir)
        model_store.load(session, second, settings.model_dir)


def test_quarantine_list_approve_discard(runner, env, settings, sessions, seed_model):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3])
    with sessions.begin() as session:
        feedback.claim(session, 10)
        feedback.mark(session, ids, seed_model, QUARANTINED)
    listed = runner.invoke(args=["quarantine", "list"])
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 1 + 3  # a header
    assert f"v{seed_model}" in listed.output and "correct → positive" in listed.output
    approved = runner.invoke(args=["quarantine", "approve", str(ids[0])])
    assert approved.exit_code == 0 and "approved 1 feedback rows" in approved.output
    discarded = runner.invoke(args=["quarantine", "discard", "--all"])
    assert discarded.exit_code == 0 and "discarded 2 feedback rows" in discarded.output
    wrong = runner.invoke(args=["quarantine", "approve", str(ids[1])])
    assert wrong.exit_code == 1 and f"feedback {ids[1]} is not quarantined" in wrong.output
    assert "quarantine list" in wrong.output
    nothing = runner.invoke(args=["quarantine", "discard"])
    assert nothing.exit_code == 2 and "--source PREFIX, or --all" in nothing.output
    with sessions() as session:
        assert [r.status for r in session.scalars(select(Feedback).order_by(Feedback.id))] == [
            "approved",
            "discarded",
            "discarded",
        ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the app's is unused
@pytest.mark.parametrize(
    "args", [["init-db"], ["versions"], ["retrain"], ["rollback", "1"], ["quarantine", "list"]]
)
def test_an_unreachable_database_is_one_line_that_names_it(runner, monkeypatch, tmp_path, args):
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://mc:secret@127.0.0.1:1/reviews")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "pkl_objects"))
    monkeypatch.setenv("APP_ENV", "testing")
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: the database postgresql+psycopg://mc:***@127.0.0.1:1/reviews is unavailable: "
    )
    assert "Traceback" not in result.output and "secret" not in result.output


def test_versions_and_the_dashboard_agree_and_leave_out_discarded_answers(
    runner, env, client, settings, sessions, seed_model
):
    """Live accuracy is one query (``stats.versions``): ``flask versions`` and the dashboard
    show the same figure, and an answer an operator discarded counts on neither."""
    ids = add_feedback(
        sessions, settings.model_dir, POSITIVE_REVIEWS[:4], correct=[True, True, True, False]
    )
    with sessions.begin() as session:
        assert [row.id for row in feedback.claim(session, 1)] == ids[:1]
        feedback.mark(session, ids[:1], seed_model, QUARANTINED)
    discarded = runner.invoke(args=["quarantine", "discard", str(ids[0])])
    assert discarded.exit_code == 0, discarded.output
    # Kept: True, True, False. Counting the discarded answer would give 3 of 4 (0.7500).
    listed = runner.invoke(args=["versions", "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["live_accuracy"], row["live_feedback"]) == (pytest.approx(2 / 3), 3)
    table = runner.invoke(args=["versions"]).output.splitlines()
    assert table[1].startswith(f"*{seed_model}") and table[1].endswith("0.6667 (3)")
    page = client.get("/dashboard").get_data(as_text=True)
    cells = re.search(rf'<tr id="version-{seed_model}".*?</tr>', page, re.DOTALL)
    assert cells is not None
    assert "66.7%" in cells.group(0) and "2 of 3 answers" in " ".join(cells.group(0).split())


def test_train_on_the_python_features_logs_a_warning(
    runner, env, seed_model, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
    with caplog.at_level(logging.WARNING, logger="movieclassifier.features"):
        result = runner.invoke(args=["train", str(tmp_path / "unread.csv"), "--if-missing"])
    assert result.exit_code == 0, result.output
    assert "a model is already published" in result.output
    assert features.SLOW_WARNING in caplog.messages
