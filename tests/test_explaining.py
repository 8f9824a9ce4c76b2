"""Explanations: exact for the model, in the API (single and batch) and on the result page.

The exactness tests run on the C and on the Python features; the API and page tests on
SQLite and PostgreSQL (the ``client`` fixture's database).
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pytest

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import explaining, features
from movieclassifier.model import Calibration

BACKENDS = [
    pytest.param(
        features.C_BACKEND,
        id="c",
        marks=pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built"),
    ),
    pytest.param(features.PYTHON_BACKEND, id="python"),
]
REVIEWS = [
    *POSITIVE_REVIEWS[:3],
    *NEGATIVE_REVIEWS[:3],
    "I didn't like it :( <br /><br />Not at ALL!! 10/10 for effort, café scenes aside.",
    "good good good good",  # a repeated n-gram counts once
    "Ünïcödé wörds and an emoji 🎬 stay words too.",
]


def logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def model_logit(model, review: str) -> float:
    """scikit-learn's own score of the review, on the calibrated scale."""
    score = model.classifier.decision_function(model.vectorize([review]))[0]
    return model.calibration.scale * float(score)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    monkeypatch.setattr(features, "BACKEND", request.param)
    return request.param


@pytest.mark.parametrize("review", REVIEWS)
def test_contributions_plus_intercept_are_the_logit(backend, tiny_model, review):
    explained = explaining.explain(tiny_model, review)
    shown = model_logit(tiny_model, review)
    assert explained.total == pytest.approx(shown, abs=1e-5)
    assert sum(explained.ngrams().values()) + explained.intercept == pytest.approx(shown, abs=1e-5)
    # The phrases are words' shares too: none is counted twice.
    covered = [i for phrase in explained.phrases for i in range(phrase.start, phrase.end)]
    assert len(covered) == len(set(covered))


def test_each_ngram_gets_the_weight_of_its_own_column(backend, tiny_model):
    review = "Brilliant acting and a great story."
    explained = explaining.explain(tiny_model, review)
    columns = features.feature_indices([review])[0]
    weights, _ = tiny_model.served_weights()
    analyzed = features.analyze(review)
    assert set(explained.ngrams()) == set(analyzed)
    # Each n-gram alone is one feature: its column's weight over sqrt(the review's columns).
    for gram, share in explained.ngrams().items():
        column = features.feature_indices([gram])[0]
        if len(features.analyze(gram)) == 1:
            expected = float(weights[column[0]]) / math.sqrt(len(columns))
            assert share == pytest.approx(expected, abs=1e-6)


def test_the_calibration_scales_every_share(tiny_model):
    review = POSITIVE_REVIEWS[0]
    before = explaining.explain(tiny_model, review)
    tiny_model.calibration = Calibration(scale=2.5, rows=500)
    after = explaining.explain(tiny_model, review)
    assert after.total == pytest.approx(2.5 * before.total)
    assert after.total == pytest.approx(model_logit(tiny_model, review), abs=1e-5)
    moderate = "I saw it on a Tuesday afternoon."
    shown = tiny_model.predict([moderate])[0].positive_probability
    assert explaining.explain(tiny_model, moderate).total == pytest.approx(logit(shown), abs=1e-5)


def test_an_empty_after_normalization_review_has_no_phrases(backend, tiny_model):
    explained = explaining.explain(tiny_model, "<br /> ... --- <b></b>")
    assert explained.phrases == []
    assert explained.total == pytest.approx(explained.intercept)


def test_phrases_do_not_span_punctuation(tiny_model):
    explained = explaining.explain(tiny_model, "Terrible, awful. Wonderful, brilliant.")
    assert all("," not in p.text and len(p.text.split()) == 1 for p in explained.phrases)


def test_the_highlighted_review_is_the_review(tiny_model):
    review = "I didn't LIKE it, a <b>terrible</b> and boring mess :-( Great score though!"
    explained = explaining.explain(tiny_model, review)
    segments = explaining.highlighted(review, explained, explained.phrases[:6])
    assert "".join(s.text for s in segments) == review
    marked = [s for s in segments if s.phrase is not None]
    assert marked, "some phrase is marked"
    for segment in marked:
        # The mark covers the phrase's words as the review writes them.
        assert segment.text.lower().replace("n't", " not").split()[0].strip(",") in (
            segment.phrase.text
        )


# ---- the API -------------------------------------------------------------------------


def test_explain_is_sent_only_when_asked(client, seed_model):
    body = client.post("/api/v1/predict", json={"review": POSITIVE_REVIEWS[0]}).get_json()
    assert "explanation" not in body["predictions"][0]
    body = client.post(
        "/api/v1/predict", json={"review": POSITIVE_REVIEWS[0], "explain": False}
    ).get_json()
    assert "explanation" not in body["predictions"][0]


def test_explain_single(client, seed_model, tiny_model):
    review = "A wonderful film, but the plot is stupid and boring."
    response = client.post("/api/v1/predict", json={"review": review, "explain": True})
    assert response.status_code == 200
    explanation = response.get_json()["predictions"][0]["explanation"]
    expected = explaining.explain(tiny_model, review).top(10)
    assert [item["text"] for item in explanation] == [p.text for p in expected]
    weights = [item["weight"] for item in explanation]
    assert weights == sorted(weights, key=lambda w: -abs(w))
    sign_of = {word: item["weight"] > 0 for item in explanation for word in item["text"].split()}
    assert sign_of["wonderful"] is True
    assert sign_of["stupid"] is False and sign_of["boring"] is False
    assert all(item["text"] == item["text"].lower() for item in explanation)


def test_explain_batch_and_explain_top(make_app, seed_model, tiny_model):
    client = make_app(explain_top=2).test_client()
    reviews = [POSITIVE_REVIEWS[1], NEGATIVE_REVIEWS[1], "<p>...</p> ok?"]
    body = client.post("/api/v1/predict", json={"reviews": reviews, "explain": True}).get_json()
    for item, review in zip(body["predictions"], reviews, strict=True):
        expected = explaining.explain(tiny_model, review).top(2)
        assert [e["text"] for e in item["explanation"]] == [p.text for p in expected]
        assert len(item["explanation"]) <= 2
        assert all(set(e) == {"text", "weight"} for e in item["explanation"])


def test_explain_with_track_stores_and_explains(client, seed_model):
    response = client.post(
        "/api/v1/predict", json={"review": POSITIVE_REVIEWS[2], "track": True, "explain": True}
    )
    item = response.get_json()["predictions"][0]
    assert item["prediction_id"] and item["explanation"]


@pytest.mark.parametrize("value", ["yes", 1, None, [], {}])
def test_explain_must_be_a_boolean(client, seed_model, value):
    response = client.post(
        "/api/v1/predict", json={"review": POSITIVE_REVIEWS[0], "explain": value}
    )
    assert response.status_code == 400
    assert "'explain' must be a boolean" in response.get_json()["error"]


def test_a_script_review_explained_stays_text(client, seed_model):
    review = '<script>alert("x")</script> a wonderful <img src=x onerror=alert(1)> film'
    body = client.post("/api/v1/predict", json={"review": review, "explain": True}).get_json()
    texts = " ".join(item["text"] for item in body["predictions"][0]["explanation"])
    assert "<" not in texts and ">" not in texts


def test_the_openapi_document_describes_explain(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["PredictRequest"]["properties"]["explain"]["type"] == "boolean"
    assert schemas["Prediction"]["properties"]["explanation"]["type"] == "array"
    assert set(schemas["ExplainedPhrase"]["required"]) == {"text", "weight"}


# ---- the result page (server-rendered; the browser test has the real Chromium) --------


def csrf_token(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def result_page(client, review: str) -> str:
    data = {"review": review, "csrf_token": csrf_token(client)}
    response = client.post("/", data=data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_result_page_marks_the_phrases_and_lists_them(client, seed_model, tiny_model):
    review = "A wonderful film, but the plot is stupid and boring."
    page = result_page(client, review)
    explained = explaining.explain(tiny_model, review)
    for phrase in explained.pushing(1, 5) + explained.pushing(-1, 5):
        assert html.escape(phrase.text) in page
    assert 'id="why-positive"' in page and 'id="why-negative"' in page
    marks = re.findall(r'<mark class="push push-(positive|negative)" title="pushes toward \1', page)
    assert "positive" in marks and "negative" in marks
    # Not colour alone: each mark is described by the legend's words, and has a title.
    assert 'aria-describedby="legend-negative"' in page and 'id="legend-negative"' in page
    assert 'id="why-legend"' in page


def test_a_script_review_on_the_result_page_stays_escaped(client, seed_model):
    review = '<script>alert("x")</script> a wonderful film <img src=x onerror=alert(1)>'
    page = result_page(client, review)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in page


def test_the_page_of_an_older_version_says_why_is_not_shown(
    make_app, seed_model, session, settings, tiny_model
):
    from movieclassifier import model_store
    from movieclassifier.schema import PROMOTED

    client = make_app(model_reload_seconds=0).test_client()
    response = client.post(
        "/", data={"review": POSITIVE_REVIEWS[0], "csrf_token": csrf_token(client)}
    )
    assert 'id="why-positive"' in client.get(response.headers["Location"]).get_data(as_text=True)
    written = model_store.write(tiny_model, settings.model_dir)
    model_store.register(session, written, tiny_model, status=PROMOTED, source="test")
    session.commit()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="why-unavailable"' in page
    assert 'id="why-positive"' not in page


def test_unsure_band_decides_the_not_sure_note(make_app, seed_model, tiny_model):
    review = "I saw it on a Tuesday afternoon."
    probability = tiny_model.predict([review])[0].probability
    assert probability < 0.6
    wide = result_page(make_app(unsure_band=0.45).test_client(), review)
    narrow = result_page(make_app(unsure_band=0.0).test_client(), review)
    assert 'id="unsure"' in wide
    assert 'id="unsure"' not in narrow


def test_explanation_weights_match_the_page(client, seed_model, tiny_model):
    review = NEGATIVE_REVIEWS[0]
    page = result_page(client, review)
    explained = explaining.explain(tiny_model, review)
    strongest = explained.pushing(-1, 1)[0]
    assert f"{strongest.weight:+.2f}" in page
    assert np.isclose(explained.total, logit(tiny_model.predict([review])[0].positive_probability))


def test_an_empty_after_normalization_review_explains_as_an_empty_list(client, seed_model):
    response = client.post(
        "/api/v1/predict", json={"review": "<br /> ... --- <b></b> ...", "explain": True}
    )
    assert response.status_code == 200
    assert response.get_json()["predictions"][0]["explanation"] == []
