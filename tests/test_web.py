"""The pages through Flask's test client: form, result, thanks, form errors, CSRF, escaping."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from movieclassifier.schema import LEARNED, Feedback, StoredPrediction

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."


def csrf_token(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def submit_review(client, review=REVIEW):
    token = csrf_token(client.get("/").get_data(as_text=True))
    return client.post("/", data={"review": review, "csrf_token": token})


def result_parts(html):
    return {
        "prediction_id": int(re.search(r'name="prediction_id" value="(\d+)"', html).group(1)),
        "token": csrf_token(html),
    }


def test_form_page(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<meta name="viewport"' in html
    assert '<textarea id="review" name="review"' in html
    assert 'name="csrf_token"' in html
    assert "Between 10 and 20,000 characters." in html


def test_pages_use_no_asset_from_the_internet(client, seed_model):
    for html in (
        client.get("/").get_data(as_text=True),
        submit_review(client).get_data(as_text=True),
    ):
        assert not re.search(r'(src|href)="(https?:)?//', html)
    with client.get("/static/style.css") as css, client.get("/static/app.js") as script:
        assert css.status_code == 200
        assert b"fetch(" in script.data


def test_result_page_shows_label_probability_bar_version_and_buttons(
    client, seed_model, sessions, tiny_model
):
    response = submit_review(client)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    expected = tiny_model.predict([REVIEW])[0]
    percent = round(expected.probability * 100, 1)
    assert '<span class="label label-positive" id="label">positive</span>' in html
    assert f'<strong id="probability">{percent:.1f}%</strong>' in html
    assert f'style="width: {percent}%"' in html
    assert f'aria-valuenow="{percent}"' in html
    assert f"Answered by model version {seed_model}." in html
    assert (
        'value="true" class="correct"\n      aria-label="Correct: the review is positive"' in html
    )
    assert 'aria-label="Incorrect: the review is not positive"' in html
    prediction_id = result_parts(html)["prediction_id"]
    with sessions() as session:
        row = session.get(StoredPrediction, prediction_id)
        assert (row.review, row.label, row.channel) == (REVIEW, "positive", "web")
        assert row.probability == expected.probability


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ("   ", "Please write a review."),
        ("too short", "Please write a little more: a review needs at least 10 characters."),
        ("y" * 20001, "That review is too long: please keep it under 20,000 characters."),
    ],
)
def test_bad_review_reshows_the_form_with_the_text_kept(client, review, message, sessions):
    response = submit_review(client, review)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<p class="form-error" id="review-error" role="alert">{message}</p>' in html
    assert f'aria-invalid="true">{review}</textarea>' in html
    with sessions() as session:
        assert session.scalars(select(StoredPrediction)).all() == []


def test_review_sent_as_a_file_reshows_the_form(client, seed_model, sessions):
    from io import BytesIO

    token = csrf_token(client.get("/").get_data(as_text=True))
    upload = (BytesIO(REVIEW.encode()), "review.txt")
    response = client.post("/", data={"review": upload, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please type or paste the review; files are not accepted." in html
    assert 'aria-invalid="true"></textarea>' in html
    with sessions() as session:
        assert session.scalars(select(StoredPrediction)).all() == []


def test_form_with_a_nameless_part_is_an_error_page(client, seed_model, sessions):
    part = "Content-Disposition: form-data\r\n\r\n" + REVIEW
    body = f"--XX\r\n{part}\r\n--XX--\r\n".encode()
    response = client.post("/", data=body, content_type="multipart/form-data; boundary=XX")
    assert response.status_code == 400
    assert "Every form field needs a name" in response.get_data(as_text=True)
    with sessions() as session:
        assert session.scalars(select(StoredPrediction)).all() == []


def test_review_with_a_script_is_shown_as_text(client, seed_model):
    review = "Great movie! <script>alert(1)</script> Really loved it."
    html = submit_review(client, review).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "Great movie! &lt;script&gt;alert(1)&lt;/script&gt; Really loved it." in html


def test_form_without_csrf_token_is_refused(client, seed_model, sessions):
    response = client.post("/", data={"review": REVIEW})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "missing its security token" in html
    with sessions() as session:
        assert session.scalars(select(StoredPrediction)).all() == []


def test_feedback_without_csrf_token_is_refused(client, seed_model, sessions):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    response = client.post(
        "/feedback", data={"prediction_id": parts["prediction_id"], "correct": "true"}
    )
    assert response.status_code == 400
    with sessions() as session:
        assert session.scalars(select(Feedback)).all() == []


def test_incorrect_answer_stores_the_other_label_and_thanks(client, seed_model, sessions):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    response = client.post(
        "/feedback",
        data={
            "prediction_id": parts["prediction_id"],
            "correct": "false",
            "csrf_token": parts["token"],
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Thank you!" in html
    assert "this review is <strong>negative</strong>" in html
    assert '<a class="button" href="/">Classify another review</a>' in html
    with sessions() as session:
        row = session.scalar(select(Feedback))
        assert (row.prediction_id, row.correct, row.label) == (parts["prediction_id"], False, 0)


def test_feedback_form_asking_for_json_gets_the_api_answer(client, seed_model):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    response = client.post(
        "/feedback",
        data={
            "prediction_id": parts["prediction_id"],
            "correct": "true",
            "csrf_token": parts["token"],
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["ok"], body["correct"], body["label"]) == (True, True, "positive")


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"prediction_id": "999", "correct": "true"}, 404, "999 does not name a stored prediction"),
        ({"prediction_id": "1", "correct": "maybe"}, 400, 'got "maybe"'),
        ({"correct": "true"}, 400, "prediction_id is missing"),
        ({"prediction_id": "99999999999", "correct": "true"}, 400, "from 1 to 2147483647"),
    ],
)
def test_bad_feedback_form_is_an_error_page(client, seed_model, data, status, message):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    response = client.post("/feedback", data={**data, "csrf_token": parts["token"]})
    assert response.status_code == status
    assert message in unescape(response.get_data(as_text=True))
    assert response.mimetype == "text/html"


def test_answer_after_learning_is_refused_with_a_page(client, seed_model, sessions):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    data = {
        "prediction_id": parts["prediction_id"],
        "correct": "true",
        "csrf_token": parts["token"],
    }
    client.post("/feedback", data=data)
    with sessions.begin() as session:
        session.scalar(select(Feedback)).status = LEARNED
    response = client.post("/feedback", data=data)
    assert response.status_code == 409
    assert "it can no longer change" in response.get_data(as_text=True)


def test_without_a_model_the_form_says_how_to_train(client):
    response = submit_review(client)
    assert response.status_code == 503
    assert "train_stream.py" in response.get_data(as_text=True)


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "there is no /no-such-page" in response.get_data(as_text=True)
