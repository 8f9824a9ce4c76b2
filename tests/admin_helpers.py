"""What the admin tests share: users, logging in with the form's CSRF token, and rows to
triage and to review (real rows in the test's database, made by the core's own functions)."""

from __future__ import annotations

import re

from movieclassifier import accounts, feedback, model_store
from movieclassifier.model import Prediction
from movieclassifier.schema import QUARANTINED, REJECTED

PASSWORD = "a long passphrase 42"
OTHER_PASSWORD = "another long passphrase 43"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Every admin page, with the method and the area whose role may use it.
OPERATOR_PAGES = [
    ("GET", "/admin/"),
    ("GET", "/admin/quarantine"),
    ("POST", "/admin/quarantine/settle"),
    ("GET", "/admin/versions"),
    ("POST", "/admin/versions/rollback"),
    ("POST", "/admin/versions/retrain"),
    ("GET", "/admin/audit"),
]
REVIEWER_PAGES = [("GET", "/admin/queue"), ("POST", "/admin/queue/answer")]
ADMIN_PAGES = OPERATOR_PAGES + REVIEWER_PAGES


def add_user(sessions, name: str, role: str, password: str = PASSWORD) -> int:
    with sessions.begin() as session:
        return accounts.create(session, name, role, password).id


def token_in(html: str) -> str:
    match = TOKEN.search(html)
    assert match, html[:2000]
    return match.group(1)


def csrf_token(client, path: str = "/login") -> str:
    return token_in(client.get(path).get_data(as_text=True))


def login(client, name: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password})


def post(client, path: str, data: dict | None = None, token_from: str = "/admin/queue"):
    """POST ``data`` with a valid CSRF token of this client's session."""
    token = csrf_token(client, token_from)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def quarantine_rows(sessions, seed_model, tiny_model, tiny_model_written, rows, answered_at=None):
    """``rows`` [(review, label, probability, correct, source)] answered (at ``answered_at``,
    if given) and quarantined by a rejected version (0.88 -> 0.74); returns (rejected
    version, [feedback ids])."""
    with sessions.begin() as session:
        rejected = model_store.register(
            session,
            tiny_model_written,
            tiny_model,
            status=REJECTED,
            source=model_store.RETRAIN_SOURCE,
            parent_version=seed_model,
            holdout_accuracy=0.74,
            details={"holdout_accuracy_before": 0.88},
        ).version
        ids = []
        for review, label, probability, correct, source in rows:
            shown = Prediction(label, probability, probability, seed_model)
            (stored,) = feedback.store_predictions(session, [review], [shown], "api", source)
            row = feedback.add(session, stored.id, correct, source)
            if answered_at is not None:
                row.updated_at = answered_at
            ids.append(row.id)
        feedback.claim(session, 100)
        assert feedback.mark(session, ids, rejected, QUARANTINED) == len(rows)
    return rejected, ids


def track(sessions, version: int, shown: list[tuple[str, str, float]]) -> list[int]:
    """Tracked predictions of ``version``: [(review, label, probability)]; their ids."""
    with sessions.begin() as session:
        predictions = [
            Prediction(label, p, p if label == "positive" else 1 - p, version)
            for _, label, p in shown
        ]
        stored = feedback.store_predictions(
            session, [review for review, _, _ in shown], predictions, "api", "ab" * 16
        )
        return [row.id for row in stored]
