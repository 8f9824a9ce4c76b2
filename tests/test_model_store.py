import hashlib

import pytest

from movieclassifier import features, model_store
from movieclassifier.schema import PROMOTED


def test_save_then_load_gives_identical_probabilities(settings, sessions, seed_model, tiny_model):
    with sessions() as session:
        loaded = model_store.load_current(session, settings.model_dir)
    reviews = ["great film", "awful film", "it was fine, not great"]
    before = [p.positive_probability for p in tiny_model.predict(reviews)]
    after = [p.positive_probability for p in loaded.predict(reviews)]
    assert before == after
    assert loaded.version == seed_model


def test_load_refuses_a_file_whose_sha256_differs(settings, sessions, seed_model):
    with sessions() as session:
        row = model_store.get_version(session, seed_model)
        path = settings.model_dir / row.filename
        path.write_bytes(path.read_bytes() + b"tampered")
        with pytest.raises(model_store.ChecksumMismatch, match="refusing to load"):
            model_store.load(session, seed_model, settings.model_dir)


def test_load_fetches_missing_file_from_database(settings, sessions, seed_model, tmp_path):
    other_dir = tmp_path / "other-server"
    with sessions() as session:
        model = model_store.load(session, seed_model, other_dir)
        row = model_store.get_version(session, seed_model)
    fetched = other_dir / row.filename
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == row.sha256
    assert model.predict(["great"])[0].model_version == seed_model


def test_load_refuses_other_feature_parameters(settings, sessions, seed_model):
    with sessions.begin() as session:
        row = model_store.get_version(session, seed_model)
        row.feature_params = {**features.feature_params(), "n_features": 2**18}
    with sessions() as session:
        with pytest.raises(model_store.FeatureMismatch, match="n_features=262144 in the model"):
            model_store.load(session, seed_model, settings.model_dir)


def test_no_model_is_a_clear_error(settings, sessions):
    with sessions() as session:
        with pytest.raises(model_store.NoModel, match="train_stream.py"):
            model_store.load_current(session, settings.model_dir)


def test_crash_between_write_and_register_keeps_current_version(
    settings, sessions, seed_model, tiny_model
):
    # The file is written under a fresh name, but the process dies before the commit.
    written = model_store.write(tiny_model, settings.model_dir)
    with pytest.raises(RuntimeError):
        with sessions.begin() as session:
            model_store.register(session, written, tiny_model, status=PROMOTED, source="test")
            raise RuntimeError("killed before commit")
    with sessions() as session:
        assert model_store.current_version(session) == seed_model
        assert model_store.load_current(session, settings.model_dir).version == seed_model
        assert [row.version for row in model_store.list_versions(session)] == [seed_model]


def test_prune_keeps_current_and_newest(settings, sessions, seed_model, tiny_model):
    versions = [seed_model]
    for _ in range(3):
        written = model_store.write(tiny_model, settings.model_dir)
        with sessions.begin() as session:
            status = "rejected"
            versions.append(
                model_store.register(
                    session, written, tiny_model, status=status, source="test"
                ).version
            )
    with sessions.begin() as session:
        report = model_store.prune(session, settings.model_dir, keep=1, orphan_min_age_seconds=0)
    # The newest (rejected) is kept by count, the current one always.
    assert sorted(report.pruned_versions) == versions[1:3]
    with sessions() as session:
        assert model_store.load_current(session, settings.model_dir).version == seed_model
        with pytest.raises(model_store.ModelStoreError, match="pruned"):
            model_store.load(session, versions[1], settings.model_dir)


def test_load_refuses_a_model_of_an_older_tokenizer_and_says_to_retrain(
    settings, sessions, seed_model
):
    with sessions.begin() as session:
        row = model_store.get_version(session, seed_model)
        row.feature_params = {**features.feature_params(), "tokenizer_version": 1}
    with sessions() as session:
        with pytest.raises(model_store.FeatureMismatch) as caught:
            model_store.load_current(session, settings.model_dir)
    message = str(caught.value)
    assert f"tokenizer_version=1 in the model, {features.TOKENIZER_VERSION} in this code" in message
    assert "train_stream.py" in message


def test_a_stored_version_predicts_like_the_model_that_was_saved(settings, sessions, tiny_model):
    # The whole write -> register -> load path, on the float32 weights the trainer makes.
    written = model_store.write(tiny_model, settings.model_dir)
    with sessions.begin() as session:
        version = model_store.register(
            session, written, tiny_model, status=PROMOTED, source="test"
        ).version
    with sessions() as session:
        loaded = model_store.load(session, version, settings.model_dir)
    assert loaded.classifier.coef_.dtype == tiny_model.classifier.coef_.dtype
    features = tiny_model.vectorize(["great", "awful", "not great at all"])
    assert (
        loaded.positive_probabilities(features).tolist()
        == tiny_model.positive_probabilities(features).tolist()
    )
