"""The admin pages' forms: each carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from movieclassifier.accounts import MAX_PASSWORD_CHARS
from movieclassifier.schema import USER_NAME_CHARS


class LoginForm(FlaskForm):
    """Name and password; ``next`` is where to go after (an admin path only)."""

    name = StringField(
        "User name", validators=[InputRequired("Please give your user name."), Length(max=200)]
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Please give your password."), Length(max=MAX_PASSWORD_CHARS)],
    )
    next = HiddenField("next")


class ActionForm(FlaskForm):
    """A bare form for a button that changes something (logout, retrain now): the token."""


class SettleForm(FlaskForm):
    """Approve or discard quarantined answers: selected ids, a version or a source.

    ``confirmed`` is false on the first post (the confirmation page) and true on its
    second; the ids, version and source travel in the form both times.
    """

    action = HiddenField("action", validators=[InputRequired("the action is missing")])
    scope = HiddenField("scope", validators=[InputRequired("say which rows")])
    version = HiddenField("version")
    source = HiddenField("source", validators=[Length(max=USER_NAME_CHARS)])
    confirmed = BooleanField("confirmed")


class AnswerForm(FlaskForm):
    """A reviewer's answer to one question of the queue."""

    prediction_id = HiddenField("prediction_id", validators=[InputRequired("which review?")])
    correct = HiddenField("correct", validators=[InputRequired("the answer is missing")])


class RollbackForm(FlaskForm):
    """Roll back to ``version``; ``drop_labels`` discards what the newer versions learned."""

    version = HiddenField("version", validators=[InputRequired("which version?")])
    drop_labels = BooleanField("Discard the labels the newer versions learned")
    confirmed = BooleanField("confirmed")
