"""Answers only from whoever got the prediction (issue 17), on both backends.

A prediction's reference is unguessable; the page's answer must come from the browser (page
session) that got it; an unknown and a foreign reference get the same 404; who asked and who
answered is stored as a keyed hash, never as an address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import pytest
from sqlalchemy import inspect, select, text

from movieclassifier import feedback
from movieclassifier.schema import LEARNED, Feedback, StoredPrediction

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."
ADDRESS = "203.0.113.77"
NOT_YOURS = "does not name a prediction you can answer"


def keyed(identity, key="test-secret"):
    """What the stored source must be: HMAC-SHA256 of ``identity``, 32 hex digits."""
    return hmac.new(key.encode(), identity.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def page_prediction(client):
    """Post the form from ``client``'s browser; its reference and the page's CSRF token."""
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"review": REVIEW, "csrf_token": token})
    assert response.status_code == 303
    reference = response.headers["Location"].removeprefix("/p/")
    return reference, csrf_token(client.get(response.headers["Location"]).get_data(as_text=True))


def page_answer(client, reference, correct):
    token = csrf_token(client.get("/").get_data(as_text=True))
    data = {"prediction_id": reference, "correct": correct, "csrf_token": token}
    return client.post("/feedback", data=data, headers={"Accept": "application/json"})


def api_prediction(client, **kwargs):
    body = client.post("/api/v1/predict", json={"review": REVIEW, "track": True}, **kwargs)
    return body.get_json()["predictions"][0]["prediction_id"]


def api_answer(client, reference, correct, **kwargs):
    data = {"prediction_id": reference, "correct": correct}
    return client.post("/api/v1/feedback", json=data, **kwargs)


def answers(sessions):
    with sessions() as session:
        return [(row.correct, row.label, row.status) for row in session.scalars(select(Feedback))]


def test_references_are_random_128_bit_tokens(client, seed_model, sessions):
    references = [api_prediction(client) for _ in range(20)]
    assert len(set(references)) == 20
    for reference in references:
        # token_urlsafe(16): 16 random bytes in 22 URL-safe characters.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", reference)
    with sessions() as session:
        ids = session.scalars(select(StoredPrediction.id).order_by(StoredPrediction.id))
        # The integer key stays internal: it is not what the client got.
        assert not {str(i) for i in ids} & set(references)


@pytest.mark.parametrize("channel", ["page", "api"])
def test_a_guessed_reference_is_404(client, seed_model, sessions, channel):
    if channel == "page":
        page_prediction(client)
        response = page_answer(client, secrets.token_urlsafe(16), "true")
    else:
        api_prediction(client)
        response = api_answer(client, secrets.token_urlsafe(16), True)
    assert response.status_code == 404
    assert NOT_YOURS in response.get_json()["error"]
    assert answers(sessions) == []


def test_a_reference_from_another_browser_is_404_and_changes_nothing(
    app, client, seed_model, sessions
):
    reference, _ = page_prediction(client)
    other = app.test_client()
    # Not yet answered: the other browser cannot give the first answer either.
    refused = page_answer(other, reference, "false")
    assert refused.status_code == 404
    assert answers(sessions) == []
    assert page_answer(client, reference, "true").status_code == 201
    refused_again = page_answer(other, reference, "false")
    assert refused_again.status_code == 404
    assert answers(sessions) == [(True, 1, "pending")]
    # The same words as for a reference that names nothing: existence is not revealed.
    guessed = page_answer(other, "A" * 22, "false").get_json()["error"]
    assert refused.get_json()["error"].replace(reference, "A" * 22) == guessed


def test_a_page_reference_is_404_on_the_api_and_an_api_reference_on_the_page(
    client, seed_model, sessions
):
    page_reference, _ = page_prediction(client)
    api_reference = api_prediction(client)
    from_api = api_answer(client, page_reference, True)
    from_page = page_answer(client, api_reference, "true")
    assert (from_api.status_code, from_page.status_code) == (404, 404)
    assert NOT_YOURS in from_api.get_json()["error"]
    assert NOT_YOURS in from_page.get_json()["error"]
    assert answers(sessions) == []


def test_a_reused_reference_replaces_the_answer_until_learned(client, seed_model, sessions):
    reference, _ = page_prediction(client)
    first = page_answer(client, reference, "true").get_json()
    second = page_answer(client, reference, "false").get_json()
    assert first["id"] == second["id"]
    assert answers(sessions) == [(False, 0, "pending")]
    with sessions.begin() as session:
        row = session.scalar(select(Feedback))
        row.status = LEARNED
        row.learned_version = seed_model
    late = page_answer(client, reference, "true")
    assert late.status_code == 409
    assert late.get_json()["error"] == (
        f"the answer to prediction {reference} is already learned; it can no longer change"
    )
    assert answers(sessions) == [(False, 0, LEARNED)]


def all_stored_text(engine):
    """Every value of every row of every table, as text."""
    values = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                values.extend(str(value) for value in row)
    return values


def test_the_api_stores_a_keyed_hash_of_the_address_never_the_address(
    client, seed_model, sessions, engine
):
    environ = {"REMOTE_ADDR": ADDRESS}
    reference = api_prediction(client, environ_base=environ)
    assert api_answer(client, reference, False, environ_base=environ).status_code == 201
    with sessions() as session:
        prediction = session.scalar(select(StoredPrediction))
        answer = session.scalar(select(Feedback))
    assert prediction.source == answer.source == keyed(f"api:{ADDRESS}")
    assert not any(ADDRESS in value for value in all_stored_text(engine))


def test_the_api_source_is_the_address_the_trusted_proxy_gives(make_app, seed_model, sessions):
    client = make_app(trusted_proxies=1).test_client()
    forwarded = {"X-Forwarded-For": "198.51.100.9"}
    api_prediction(client, headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    with sessions() as session:
        assert session.scalar(select(StoredPrediction.source)) == keyed("api:198.51.100.9")


def test_a_page_stores_a_keyed_hash_of_its_session_never_the_address(
    app, seed_model, sessions, engine
):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    reference, _ = page_prediction(client)
    assert page_answer(client, reference, "true").status_code == 201
    with client.session_transaction() as cookie:
        page_session = cookie["page_session"]
    assert len(page_session) >= 22
    with sessions() as session:
        prediction = session.scalar(select(StoredPrediction))
        answer = session.scalar(select(Feedback))
    assert prediction.source == answer.source == keyed(f"page:{page_session}")
    stored = all_stored_text(engine)
    assert not any(ADDRESS in value or page_session in value for value in stored)


def test_another_secret_key_gives_other_sources(make_app, seed_model, sessions):
    client = make_app(secret_key="another-secret").test_client()
    api_prediction(client, environ_base={"REMOTE_ADDR": ADDRESS})
    with sessions() as session:
        assert session.scalar(select(StoredPrediction.source)) == keyed(
            f"api:{ADDRESS}", key="another-secret"
        )


def test_the_core_refuses_a_foreign_answer_with_the_unknown_error(sessions, seed_model, tiny_model):
    predictions = tiny_model.predict([REVIEW])
    with sessions.begin() as session:
        [row] = feedback.store_predictions(session, [REVIEW], predictions, feedback.WEB, "aa" * 16)
        reference = row.reference
    for channel, source in [(feedback.WEB, "bb" * 16), (feedback.WEB, None), (feedback.API, None)]:
        with (
            sessions.begin() as session,
            pytest.raises(feedback.UnknownPrediction) as foreign,
        ):
            feedback.answer(session, reference, True, channel, source)
        with sessions.begin() as session, pytest.raises(feedback.UnknownPrediction) as unknown:
            feedback.answer(session, "Z" * 22, True, channel, source)
        assert str(foreign.value) == str(unknown.value)
    with sessions.begin() as session:
        _, answer = feedback.answer(session, reference, True, feedback.WEB, "aa" * 16)
        assert (answer.correct, answer.source) == (True, "aa" * 16)


def test_a_malformed_reference_names_nothing(sessions):
    for reference in ["", "short", "x" * 65, "has spaces in it here", "é" * 22, "a/b" * 8]:
        with sessions() as session, pytest.raises(feedback.UnknownPrediction):
            feedback.find_prediction(session, reference)
