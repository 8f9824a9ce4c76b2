"""The words the pages share (``templates/_wording.html``), rendered by the app's Jinja.

The pages themselves are checked in a real browser (``test_browser_form.py``,
``test_pages_screenshots.py``); these are the boundaries, which a tiny model cannot hit on
demand: where "not sure" begins, and where a percentage would round up to a certainty.
"""

from __future__ import annotations

import pytest


def render(app, source, **values):
    with app.test_request_context():
        template = app.jinja_env.from_string('{% import "_wording.html" as w %}' + source)
        return template.render(**values).strip()


@pytest.mark.parametrize(
    ("probability", "shown"),
    [
        (0.5, "50.0%"),
        (0.977, "97.7%"),
        (0.999, "99.9%"),
        (0.9994, "&gt;99.9%"),
        (0.9996, "&gt;99.9%"),  # "%.1f" would say 100.0%
        (1.0, "&gt;99.9%"),
    ],
)
def test_how_sure_never_rounds_up_to_a_certainty(app, probability, shown):
    assert render(app, "{{ w.sure(p) }}", p=probability) == shown


@pytest.mark.parametrize(
    ("probability", "unsure"), [(0.5, True), (0.5999, True), (0.6, False), (0.9, False)]
)
def test_the_not_sure_band_is_below_six_in_ten_by_default(probability, unsure):
    from movieclassifier.config import Settings
    from movieclassifier.model import is_unsure

    assert is_unsure(probability, Settings().unsure_band) is unsure


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (600, "10 minutes"),
        (60, "1 minute"),
        (5400, "90 minutes"),
        (7200, "2 hours"),
        (3600, "1 hour"),
        (45, "45 seconds"),
    ],
)
def test_durations_in_words(app, seconds, words):
    assert render(app, "{{ w.duration(s) }}", s=seconds) == words


def test_when_an_answer_is_learned_follows_retrain_every(make_app):
    app = make_app(retrain_every=7200.0)
    words = " ".join(render(app, "{{ w.when_learned() }}").split())
    assert words == (
        "The model learns from it at the next retraining, within 2 hours, if the retrained"
        " model still passes its accuracy check."
    )
