"""A new base from `flask train` goes through the gate too, and bad files draw warnings (#17)."""

import json

import pytest

from loop_helpers import movie_rows, write_csv
from movieclassifier import holdout, model_store, training
from movieclassifier.schema import PROMOTED, REJECTED
from servers import settings_env

# A held-out part big enough not to warn, and a batch size small enough not to.
HELD = training.MIN_HOLDOUT
OK_OPTIONS = ["--holdout", str(HELD), "--batch-size", "50", "--workers", "0", "--quiet"]


@pytest.fixture
def env(settings, monkeypatch):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)


def mixed(count, skip=0):
    rows = movie_rows(count, skip)
    assert 0 < sum(label for _, label in rows) < count
    return rows


def flipped(rows):
    return [(review, 1 - label) for review, label in rows]


def train(runner, path, *options):
    return runner.invoke(args=["train", str(path), *map(str, options)])


def state(sessions):
    """The current version, every version's status, and the current version's evaluation set."""
    with sessions() as session:
        statuses = {row.version: row.status for row in model_store.list_versions(session)}
        return model_store.current_version(session), statuses, holdout.load(session)


def test_the_first_model_is_promoted(runner, env, sessions, tmp_path):
    rows = mixed(600)
    path = write_csv(tmp_path / "first.csv", rows)
    result = train(runner, path, *OK_OPTIONS)
    assert result.exit_code == 0, result.output
    assert "published version 1" in result.stdout
    assert result.stderr == ""  # nothing to warn about
    current, statuses, held = state(sessions)
    assert current == 1 and statuses == {1: PROMOTED}
    assert held.texts == [review for review, _ in rows[-HELD:]]
    with sessions() as session:
        assert model_store.get_version(session, 1).details["gate"]["reason"] == holdout.FIRST
        own = holdout.set_of(session, 1)
    assert own is not None and f"on {HELD} rows (stored as evaluation set {own})" in result.stdout


def test_a_worse_base_is_rejected_and_the_current_version_stays(
    runner, env, sessions, client, imdb_model, tmp_path
):
    before = state(sessions)
    with sessions() as session:
        evaluated_on = holdout.set_of(session, imdb_model)
    # Mislabeled reviews: the model learns the opposite of sentiment.
    path = write_csv(tmp_path / "worse.csv", flipped(mixed(600, skip=3000)))
    result = train(runner, path, *OK_OPTIONS, "--json")
    assert result.exit_code == 1
    version = imdb_model + 1
    assert f"Error: version {version} was rejected: its held-out accuracy" in result.stderr
    assert f"on the 500 rows of evaluation set {evaluated_on} (version {imdb_model}'s)" in (
        result.stderr
    )
    assert f"version {imdb_model} stays current and keeps its held-out set" in result.stderr
    figures = json.loads(result.stdout)
    assert figures["status"] == REJECTED and figures["version"] == version
    gate = figures["gate"]
    assert gate["current_version"] == imdb_model and gate["rows"] == len(before[2].texts)
    # The worse file holds none of the current version's held-out rows: none left out.
    assert gate["holdout_set"] == evaluated_on and gate["left_out"] == 0
    assert gate["accuracy_current"] > 0.8 > 0.5 > gate["accuracy_new"]
    current, statuses, held = state(sessions)
    assert current == imdb_model
    assert statuses == {imdb_model: PROMOTED, version: REJECTED}
    assert held == before[2]  # this run's held-out rows did not replace the stored ones
    body = client.get("/api/v1/model").get_json()
    assert body["version"] == imdb_model and body["status"] == PROMOTED


def test_promote_publishes_a_worse_base_anyway(runner, env, sessions, client, imdb_model, tmp_path):
    path = write_csv(tmp_path / "worse.csv", flipped(mixed(600, skip=3000)))
    result = train(runner, path, *OK_OPTIONS, "--promote")
    assert result.exit_code == 0, result.output
    version = imdb_model + 1
    assert f"published version {version}" in result.stdout
    assert "(below the gate; published because of --promote)" in result.stdout
    assert "; gated on the 500 rows of evaluation set" in result.stdout
    current, statuses, held = state(sessions)
    assert current == version and statuses[version] == PROMOTED
    # Promoted: its held-out rows are now the set later versions are gated on.
    assert len(held.texts) == HELD
    assert client.get("/api/v1/model").get_json()["version"] == version
    with sessions() as session:
        assert (
            model_store.get_version(session, version).details["gate"]["reason"]
            == holdout.OVERRIDDEN
        )


def test_a_base_no_worse_than_the_current_one_is_published(
    runner, env, sessions, imdb_model, tmp_path
):
    rows = mixed(3000, skip=3000)
    path = write_csv(tmp_path / "better.csv", rows)
    result = train(runner, path, "--holdout", 500, "--workers", 0, "--quiet")
    assert result.exit_code == 0, result.output
    assert "against 0.8" in result.stdout and f"for version {imdb_model}" in result.stdout
    with sessions() as session:
        old_set = holdout.set_of(session, imdb_model)
        old_rows = holdout.load(session, old_set).texts
    # The IMDb data repeats a review: the gate leaves out the one this file trains on.
    trained = {review for review, _ in rows[:-500]}
    left_out = sum(review in trained for review in old_rows)
    assert left_out == 1
    assert (
        f"gated on the {500 - left_out} rows of evaluation set {old_set} (version "
        f"{imdb_model}'s; {left_out} more left out: this run trained on them)"
    ) in result.stdout
    current, statuses, held = state(sessions)
    assert current == imdb_model + 1 and statuses[current] == PROMOTED
    assert held.texts == [review for review, _ in movie_rows(500, skip=5500)]
    with sessions() as session:
        # Its own rows are a new set; the old version keeps its own.
        assert holdout.set_of(session, current) not in (None, old_set)
        assert holdout.count(session, old_set) == 500


def _one_class_holdout():
    return mixed(400) + [row for row in movie_rows(1000) if row[1] == 1][:HELD], []


def _one_class_training():
    return [row for row in movie_rows(1000) if row[1] == 1][:400] + mixed(HELD, skip=2000), []


def _fewer_rows_than_batch():
    return mixed(400 + HELD), ["--batch-size", "1000"]


def _small_holdout():
    return mixed(500), ["--holdout", "100"]


@pytest.mark.parametrize(
    "make, message",
    [
        (_one_class_holdout, f"warning: all {HELD} held-out rows are positive"),
        (_one_class_training, "warning: all 400 training rows are positive"),
        (
            _fewer_rows_than_batch,
            "warning: 400 training rows, fewer than the batch size 1000: "
            "they are learned in one partial_fit step",
        ),
        (_small_holdout, "warning: only 100 held-out rows, fewer than 200"),
    ],
)
def test_each_warning_is_one_line_and_strict_refuses(
    runner, env, sessions, settings, tmp_path, make, message
):
    rows, options = make()
    path = write_csv(tmp_path / "data.csv", rows)
    strict = train(runner, path, *OK_OPTIONS, *options, "--strict")
    assert strict.exit_code == 1
    assert message in strict.stderr
    assert "--strict: refusing to publish a model from" in strict.stderr
    assert "(1 warning above); nothing was published" in strict.stderr
    assert state(sessions)[:2] == (None, {})
    assert not list(settings.model_dir.glob("*.pkl"))
    result = train(runner, path, *OK_OPTIONS, *options)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith(message)
    assert "published version 1" in result.stdout


def test_a_small_file_gets_a_batch_size_of_at_least_ten_steps(sessions, settings, tmp_path):
    rows = mixed(600)
    path = write_csv(tmp_path / "small.csv", rows)
    steps = []
    report = training.train_from_csv(
        path, sessions, settings.model_dir, holdout=HELD, workers=0, progress=steps.append
    )
    assert report.batch_size == 400 // training.MIN_STEPS
    assert len(steps) >= training.MIN_STEPS
    assert [f.kind for f in report.findings] == [training.FEWER_ROWS_THAN_BATCH]
    assert report.findings[0].chosen == report.batch_size
    with sessions() as session:
        details = model_store.get_version(session, report.version).details["training"]
    assert details["batch_size"] == 40 and details["batch_size_asked"] is None
    # Asked for, the batch size is kept: one step.
    steps.clear()
    explicit = training.train_from_csv(
        path,
        sessions,
        settings.model_dir,
        batch_size=10_000,
        holdout=HELD,
        workers=0,
        progress=steps.append,
        promote=True,
    )
    assert explicit.batch_size == 10_000 and len(steps) <= 2


def test_the_cli_says_which_batch_size_it_chose(runner, env, tmp_path):
    path = write_csv(tmp_path / "small.csv", mixed(600))
    result = train(runner, path, "--holdout", HELD, "--workers", 0, "--quiet")
    assert result.exit_code == 0, result.output
    assert (
        "warning: 400 training rows, fewer than the batch size 10000: "
        f"using --batch-size 40 instead (at least {training.MIN_STEPS} steps)"
    ) in result.stderr
