"""The pages through Flask's test client: form, result (the prediction's page), thanks, form
errors, CSRF, escaping, and changing an answer until it is learned."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from movieclassifier.schema import LEARNED, QUARANTINED, Feedback, StoredPrediction

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."


def csrf_token(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def submit_review(client, review=REVIEW, follow_redirects=True):
    token = csrf_token(client.get("/").get_data(as_text=True))
    data = {"review": review, "csrf_token": token}
    return client.post("/", data=data, follow_redirects=follow_redirects)


def result_parts(html):
    return {
        "prediction_id": re.search(r'name="prediction_id" value="([\w-]+)"', html).group(1),
        "token": csrf_token(html),
    }


def stored(session, reference):
    return session.scalar(select(StoredPrediction).where(StoredPrediction.reference == reference))


def answer(client, parts, correct, **kwargs):
    data = {"prediction_id": parts["prediction_id"], "correct": correct}
    return client.post("/feedback", data={**data, "csrf_token": parts["token"]}, **kwargs)


def test_form_page(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<meta name="viewport"' in html
    assert '<textarea id="review" name="review"' in html
    assert 'name="csrf_token"' in html
    assert "Between 10 and 20,000 characters." in html


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    with client.get(response.headers["Location"]) as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"


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
    percent = f"{expected.probability * 100:.1f}"
    assert '<span class="label label-positive" id="label">positive</span>' in html
    # How the probability is worded belongs to the wording (templates/_wording.html).
    assert '<strong id="probability">' in html
    assert f'style="width: {percent}%"' in html
    assert f'aria-valuenow="{percent}"' in html
    assert f"Answered by model version {seed_model}." in html
    assert (
        'value="true" class="correct"\n      aria-label="Correct: the review is positive"' in html
    )
    assert 'aria-label="Incorrect: the review is not positive"' in html
    prediction_id = result_parts(html)["prediction_id"]
    with sessions() as session:
        row = stored(session, prediction_id)
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


def shown_review(html: str) -> str:
    """The review block's text as the page has it (escaped), without the explanation's marks."""
    block = re.search(r'<blockquote class="review" id="review-text">(.*?)</blockquote>', html, re.S)
    assert block, "the page shows the review"
    return re.sub(r"</?mark[^>]*>", "", block.group(1))


def test_review_with_a_script_is_shown_as_text(client, seed_model):
    review = "Great movie! <script>alert(1)</script> Really loved it."
    html = submit_review(client, review).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert (
        shown_review(html) == "Great movie! &lt;script&gt;alert(1)&lt;/script&gt; Really loved it."
    )
    assert "<mark" in html  # the explanation marks phrases around the escaped text


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
        assert (row.correct, row.label) == (False, 0)
        assert row.prediction_id == stored(session, parts["prediction_id"]).id


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
        (
            {"prediction_id": "999", "correct": "true"},
            404,
            '"999" does not name a prediction you can answer',
        ),
        ({"prediction_id": "1", "correct": "maybe"}, 400, 'got "maybe"'),
        ({"correct": "true"}, 400, "prediction_id is missing"),
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


def test_the_form_redirects_303_to_the_prediction_page(client, seed_model, sessions, tiny_model):
    response = submit_review(client, follow_redirects=False)
    assert response.status_code == 303
    match = re.fullmatch(r"/p/([\w-]{22,})", response.headers["Location"])
    assert match
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    expected = tiny_model.predict([REVIEW])[0]
    assert shown_review(html) == REVIEW
    assert '<span class="label label-positive" id="label">positive</span>' in html
    assert f'aria-valuenow="{expected.probability * 100:.1f}"' in html
    assert "Status: <strong>not answered</strong>." in html
    assert result_parts(html)["prediction_id"] == match.group(1)
    with sessions() as session:
        assert stored(session, match.group(1)).review == REVIEW


def test_a_reload_of_the_prediction_page_stores_nothing_new(client, seed_model, sessions):
    location = submit_review(client, follow_redirects=False).headers["Location"]
    client.get(location)
    client.get(location)
    with sessions() as session:
        assert len(session.scalars(select(StoredPrediction)).all()) == 1


def test_an_unknown_prediction_page_is_an_html_404(client, seed_model):
    response = client.get("/p/AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no stored prediction with that reference." in response.get_data(as_text=True)


def change_form(html):
    """The value the "change my answer" button posts, or None when the page has none."""
    match = re.search(r'name="correct" value="(true|false)" class="change"\s+data-change', html)
    return match and match.group(1)


def test_change_my_answer_without_javascript(client, seed_model, sessions):
    parts = result_parts(submit_review(client).get_data(as_text=True))
    thanks = answer(client, parts, "true").get_data(as_text=True)
    assert "this review is <strong>positive</strong>" in thanks
    assert change_form(thanks) == "false"
    assert f'href="/p/{parts["prediction_id"]}"' in thanks
    changed = answer(client, {**parts, "token": csrf_token(thanks)}, change_form(thanks))
    assert changed.status_code == 200
    html = changed.get_data(as_text=True)
    assert "this review is <strong>negative</strong>" in html
    # The next change goes back the other way.
    assert change_form(html) == "true"
    with sessions() as session:
        assert [(row.correct, row.label) for row in session.scalars(select(Feedback))] == [
            (False, 0)
        ]


def test_the_prediction_page_offers_the_change_while_pending(client, seed_model):
    location = submit_review(client, follow_redirects=False).headers["Location"]
    parts = result_parts(client.get(location).get_data(as_text=True))
    answer(client, parts, "false")
    html = client.get(location).get_data(as_text=True)
    assert (
        "The answer given: this review is <strong>negative</strong>. "
        "Status: <strong>pending — will be learned at the next retraining</strong>." in html
    )
    assert change_form(html) == "true"
    assert 'class="correct"' not in html  # no second Correct / Incorrect form
    response = answer(client, result_parts(html), "true", headers={"Accept": "application/json"})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["prediction_id"], body["label"], body["status"]) == (
        parts["prediction_id"],
        "positive",
        "pending",
    )


@pytest.mark.parametrize(
    ("status", "words"),
    [(LEARNED, "learned by version 1"), (QUARANTINED, "quarantined")],
)
def test_once_taken_the_page_says_so_instead_of_offering_the_change(
    client, seed_model, sessions, status, words
):
    location = submit_review(client, follow_redirects=False).headers["Location"]
    parts = result_parts(client.get(location).get_data(as_text=True))
    answer(client, parts, "true")
    with sessions.begin() as session:
        row = session.scalar(select(Feedback))
        row.status = status
        row.learned_version = seed_model if status == LEARNED else None
        row.quarantined_version = seed_model if status == QUARANTINED else None
    html = client.get(location).get_data(as_text=True)
    assert f"Status: <strong>{words}</strong>." in html
    assert f"Your answer is {words}: it can no longer change." in html
    assert change_form(html) is None
    assert 'name="prediction_id"' not in html
    assert answer(client, parts, "false").status_code == 409


def test_another_browser_may_view_the_prediction_but_gets_no_buttons(app, client, seed_model):
    location = submit_review(client, follow_redirects=False).headers["Location"]
    other = app.test_client()
    html = other.get(location).get_data(as_text=True)
    assert shown_review(html) == REVIEW
    assert "Status: <strong>not answered</strong>." in html
    assert 'name="prediction_id"' not in html


def test_viewing_another_browsers_prediction_sets_no_cookie(app, client, seed_model):
    location = submit_review(client, follow_redirects=False).headers["Location"]
    response = app.test_client().get(location)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
