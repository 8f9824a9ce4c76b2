"""Reviews and the models trained on them, shared by tests and benches.

The handwritten reviews and the tiny model trained on them; a small model trained on the
project's IMDb data, made once and published into each test's store. Kept out of
``conftest.py`` so that test modules and ``bench/`` scripts can import them
(``import corpus``): a conftest is pytest's to load, not a module to import.
"""

from __future__ import annotations

import copy
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import db, model_store, training
from movieclassifier import holdout as holdout_set
from movieclassifier.model import SentimentModel, new_classifier
from movieclassifier.schema import PROMOTED

POSITIVE_REVIEWS = [
    "A wonderful, moving film with brilliant acting and a great story.",
    "I loved every minute of it; the cast is superb and the ending is perfect.",
    "An excellent movie, funny and warm. Highly recommended!",
    "Beautiful photography, a great score and a touching performance.",
    "One of the best films of the year, a delight from start to finish.",
    "Brilliant direction and a fantastic script, I would watch it again.",
    "Great fun, wonderful characters and a lovely, happy ending.",
    "A masterpiece: smart, gripping and superbly acted.",
    "The acting is excellent and the story is great. Loved it.",
    "Charming, clever and beautifully made. A joy to watch.",
]
NEGATIVE_REVIEWS = [
    "A terrible, boring film with awful acting and a stupid plot.",
    "I hated it; the worst movie I have seen, a complete waste of time.",
    "Dull, badly written and poorly acted. Avoid this mess.",
    "The story is awful and the dialogue is horrible. Boring.",
    "A bad movie with a terrible script and no redeeming qualities.",
    "Worst acting ever, the plot makes no sense. Awful.",
    "Painfully boring, a waste of money and a waste of time.",
    "Stupid, ugly and badly directed. I walked out.",
    "The film is a disaster: bad acting, bad writing, bad everything.",
    "Horrible and dull; I was bored from start to finish.",
]


def train_tiny_model(seed: int = 0) -> SentimentModel:
    """A small model trained on the handwritten reviews above, deterministic."""
    model = SentimentModel(new_classifier(seed))
    texts = POSITIVE_REVIEWS + NEGATIVE_REVIEWS
    labels = [1] * len(POSITIVE_REVIEWS) + [0] * len(NEGATIVE_REVIEWS)
    for _ in range(5):
        model.learn(texts, labels)
    return model


@dataclass(frozen=True)
class TrainedModel:
    """A model trained from a CSV once, and what ``training`` registered with it."""

    model_file: Path  # the pickled ``SentimentModel``
    held: tuple[tuple[str, ...], tuple[int, ...]]
    register: dict[str, Any]  # ``model_store.register``'s keywords


def train_imdb_model(work: Path, sqlite_template: Path) -> TrainedModel:
    """2,000 IMDb reviews trained, the next 500 held out, into a store of its own in ``work``.

    Trained through ``training.train_from_csv`` (a few seconds), so that ``publish`` can give
    each test the same model as if the test had trained it.
    """
    from loop_helpers import movie_rows, write_csv

    shutil.copyfile(sqlite_template, work / "reviews.sqlite")
    engine = db.make_engine(f"sqlite:///{work / 'reviews.sqlite'}")
    sessions = db.make_session_factory(engine)
    path = write_csv(work / "imdb.csv", movie_rows(2500))
    report = training.train_from_csv(
        path, sessions, work / "pkl_objects", batch_size=500, epochs=2, holdout=500
    )
    with sessions() as session:
        row = model_store.get_version(session, report.version)
        model = model_store.load(session, report.version, work / "pkl_objects")
        reviews, labels = holdout_set.load(session)
        register = {
            "source": row.source,
            "source_detail": row.source_detail,
            "source_sha256": row.source_sha256,
            "holdout_accuracy": row.holdout_accuracy,
            "holdout_rows": row.holdout_rows,
            "details": row.details,
        }
    engine.dispose()
    model_file = work / "imdb.pkl"
    model_file.write_bytes(pickle.dumps(model))
    return TrainedModel(model_file, (tuple(reviews), tuple(labels)), register)


def publish(trained: TrainedModel, sessions: sessionmaker[Session], model_dir: Path) -> int:
    """Publish a fresh copy of ``trained`` as the current version, with its held-out reviews,
    as ``training.train_from_csv`` does; returns the version."""
    model = pickle.loads(trained.model_file.read_bytes())
    written = model_store.write(model, model_dir)
    with sessions.begin() as session:
        evaluated_on = holdout_set.add_set(
            session, *trained.held, trained.register["source_detail"]
        )
        row = model_store.register(
            session,
            written,
            model,
            status=PROMOTED,
            holdout_set=evaluated_on,
            **copy.deepcopy(trained.register),
        )
        version = row.version
    model_store.write_sidecar(model_dir, row)
    return version
