"""The evaluation set is versioned, and no gate scores a model on rows it trained on.

Each ``train --holdout`` adds a set; a version records the set it is evaluated on, a retrain
inherits its parent's, and the gate of a new base leaves out the rows that base trained on.
"""

import json

import pytest

from loop_helpers import add_labelled, movie_rows, write_csv
from movieclassifier import holdout, model_store, retrain
from movieclassifier.model import Labelled
from movieclassifier.schema import PROMOTED, HoldoutSet
from servers import settings_env

HELD = 200
OPTIONS = ["--batch-size", "50", "--workers", "0", "--quiet"]


@pytest.fixture
def env(settings, monkeypatch):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)


def train(runner, path, *options):
    result = runner.invoke(args=["train", str(path), *OPTIONS, *map(str, options)])
    assert result.exit_code == 0, result.output
    return result


def texts(rows):
    return [review for review, _ in rows]


def labelled(rows):
    return Labelled(texts(rows), [label for _, label in rows])


def version_row(sessions, version):
    with sessions() as session:
        row = model_store.get_version(session, version)
        session.expunge(row)
        return row


def test_adding_a_set_keeps_every_other_set(sessions):
    first, second = movie_rows(5), movie_rows(3, skip=5)
    with sessions.begin() as session:
        assert holdout.load(session) == ([], []) and holdout.count(session) == 0
        a = holdout.add_set(session, *labelled(first), "a.csv")
        b = holdout.add_set(session, *labelled(second), "b.csv")
    assert a != b
    with sessions() as session:
        assert holdout.load(session, a) == labelled(first)
        assert holdout.load(session, b) == labelled(second)
        assert (holdout.count(session, a), holdout.count(session, b)) == (5, 3)
        stored = {row.id: (row.source_detail, row.rows) for row in session.query(HoldoutSet)}
        assert stored == {a: ("a.csv", 5), b: ("b.csv", 3)}
        # No version is current: no set is "the" set.
        assert holdout.current_set(session) is None and holdout.count(session) == 0
    with sessions.begin() as session, pytest.raises(ValueError):
        holdout.add_set(session, [], [], "empty.csv")


def test_a_retrain_is_evaluated_on_the_set_of_its_lineage(sessions, tiny_model, tiny_model_written):
    def register(**keywords):
        row = model_store.register(
            session, tiny_model_written, tiny_model, status=PROMOTED, **keywords
        )
        return row.version

    with sessions.begin() as session:
        own = holdout.add_set(session, *labelled(movie_rows(4)), "a.csv")
        base = register(source="csv", holdout_set=own)
        child = register(source=model_store.RETRAIN_SOURCE, parent_version=base)
        grandchild = register(source=model_store.RETRAIN_SOURCE, parent_version=child)
        unevaluated = register(source="csv")
    with sessions() as session:
        assert [holdout.set_of(session, v) for v in (base, child, grandchild)] == [own] * 3
        assert holdout.set_of(session, unevaluated) is None
        assert holdout.set_of(session, 999) is None
        # The current version (the last registered) records none: no rows to gate on.
        assert holdout.load(session) == ([], []) and holdout.count(session) == 0
    with sessions.begin() as session:
        model_store.set_current(session, grandchild)
    with sessions() as session:
        assert holdout.current_set(session) == own
        assert holdout.load(session) == labelled(movie_rows(4)) and holdout.count(session) == 4


def test_after_a_rollback_the_old_lineage_is_gated_on_its_own_set(
    runner, env, settings, engine, sessions, tmp_path
):
    # A trains on rows 0-399 and holds out 400-599 as its evaluation set.
    file_a = movie_rows(600)
    a_trained, a_held = file_a[:-HELD], file_a[-HELD:]
    train(runner, write_csv(tmp_path / "a.csv", file_a), "--holdout", HELD)
    # B trains on half of A's held-out rows (and more), and holds out rows of its own.
    b_trained = a_held[100:] + movie_rows(500, skip=1000)
    b_held = movie_rows(HELD, skip=2000)
    result = train(
        runner,
        write_csv(tmp_path / "b.csv", b_trained + b_held),
        "--holdout",
        HELD,
        "--promote",
        "--json",
    )
    with sessions() as session:
        set_a, set_b = holdout.set_of(session, 1), holdout.set_of(session, 2)
        assert None not in (set_a, set_b) and set_a != set_b
        assert holdout.load(session, set_a) == labelled(a_held)
        assert holdout.load(session, set_b) == labelled(b_held)
        model_a = model_store.load(session, 1, settings.model_dir)
        model_b = model_store.load(session, 2, settings.model_dir)
    # B's gate scored A's set without the 100 rows B trained on, and says so.
    gate = json.loads(result.stdout)["gate"]
    assert gate["holdout_set"] == set_a and gate["current_version"] == 1
    assert (gate["rows"], gate["left_out"]) == (100, 100)
    assert version_row(sessions, 2).details["gate"] == gate
    untrained = labelled(a_held[:100])
    assert not set(untrained.texts) & set(texts(b_trained))
    assert gate["accuracy_current"] == model_a.accuracy(*untrained)
    assert gate["accuracy_new"] == model_b.accuracy(*untrained)
    assert (
        f"gated on the 100 rows of evaluation set {set_a} (version 1's; 100 more left out: "
        "this run trained on them)"
    ) in result.stderr
    assert f"on {HELD} rows (stored as evaluation set {set_b})" in result.stderr

    rolled = runner.invoke(args=["rollback", "1"])
    assert rolled.exit_code == 0, rolled.output
    with sessions() as session:
        assert model_store.current_version(session) == 1
        assert holdout.set_of(session, 1) == set_a == holdout.current_set(session)
        back = holdout.load(session, holdout.set_of(session, 1))
    assert back == labelled(a_held)
    assert not set(back.texts) & set(texts(a_trained))  # rows A never trained on
    assert set(back.texts) & set(texts(b_trained))  # which B did: not B's set

    # A retrain of A's lineage is scored on A's set, with the rows A never saw.
    add_labelled(sessions, settings.model_dir, movie_rows(20, skip=3000))
    report = retrain.retrain(engine, settings)
    row = version_row(sessions, report.version)
    assert row.parent_version == 1 and row.holdout_rows == HELD
    assert row.details["holdout_accuracy_before"] == model_a.accuracy(*labelled(a_held))
    with sessions() as session:
        assert holdout.set_of(session, report.version) == set_a


def test_a_base_without_holdout_records_the_rows_its_gate_used(
    runner, env, sessions, settings, tmp_path
):
    file_a = movie_rows(600)
    a_held = file_a[-HELD:]
    train(runner, write_csv(tmp_path / "a.csv", file_a), "--holdout", HELD)
    # No overlap: B records A's set itself.
    result = train(runner, write_csv(tmp_path / "b.csv", movie_rows(400, skip=1000)), "--promote")
    with sessions() as session:
        set_a = holdout.set_of(session, 1)
    assert version_row(sessions, 2).holdout_set == set_a
    assert f"gated on the {HELD} rows of evaluation set {set_a} (version 1's)" in result.stdout
    assert f"its retrains are gated on evaluation set {set_a}" in result.stdout
    # C trains on 50 of the rows of B's set (A's): it records the other 150, as a new set.
    result = train(
        runner,
        write_csv(tmp_path / "c.csv", a_held[:50] + movie_rows(400, skip=2000)),
        "--promote",
        "--json",
    )
    gate = json.loads(result.stdout)["gate"]
    assert (gate["holdout_set"], gate["rows"], gate["left_out"]) == (set_a, 150, 50)
    with sessions() as session:
        set_c = holdout.set_of(session, 3)
        assert set_c not in (None, set_a)
        assert holdout.load(session, set_c) == labelled(a_held[50:])
        assert holdout.load(session, set_a) == labelled(a_held)  # A's set is untouched
        assert session.get(HoldoutSet, set_c).source_detail == (
            f"set {set_a} without the 50 rows c.csv trained on"
        )
    assert f"its retrains are gated on evaluation set {set_c}" in result.stderr


def test_a_base_that_trained_on_the_whole_set_is_not_scored_on_it(runner, env, sessions, tmp_path):
    file_a = movie_rows(600)
    train(runner, write_csv(tmp_path / "a.csv", file_a), "--holdout", HELD)
    # B trains on every row A held out, and holds none out.
    result = train(
        runner, write_csv(tmp_path / "b.csv", file_a[-HELD:] + movie_rows(300, skip=1000))
    )
    with sessions() as session:
        set_a = holdout.set_of(session, 1)
        assert holdout.set_of(session, 2) is None  # nothing left it never trained on
        assert model_store.current_version(session) == 2
    assert (
        f"not gated: this run trained on all {HELD} rows of evaluation set {set_a} "
        "(version 1's), so none is left to compare on"
    ) in result.stdout
    gate = version_row(sessions, 2).details["gate"]
    assert gate["reason"] == holdout.NOTHING_LEFT
    assert (gate["rows"], gate["left_out"], gate["holdout_set"]) == (0, HELD, set_a)
    assert gate["accuracy_current"] is None and gate["accuracy_new"] is None


def test_a_held_out_row_the_base_also_trained_on_is_not_stored(runner, env, sessions, tmp_path):
    rows = movie_rows(600)
    # The first held-out row is also the first training row (a duplicate in the file).
    path = write_csv(tmp_path / "a.csv", rows[:400] + [rows[0]] + rows[401:])
    train(runner, path, "--holdout", HELD)
    with sessions() as session:
        stored = holdout.load(session, holdout.set_of(session, 1))
    assert stored == labelled(rows[401:]) and len(stored.texts) == HELD - 1
