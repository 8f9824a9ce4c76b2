"""``scripts/retrain.py`` that SIGKILLs itself at a named point (tests/test_kill.py).

Usage: ``python tests/crashing_retrain.py POINT [retrain options]``, with the settings in
the environment as for ``scripts/retrain.py``. Before the command runs, one seam of the
job is wrapped so that the process kills itself there, deterministically: no thread, no
polling, nothing in the package. The points, in the order a run reaches them:

- ``claim``: ``retrain.claim`` has committed the batch as "learning".
- ``learn``: ``learning.learn`` has returned the new model, nothing is written yet.
- ``rename``: ``os.replace`` (model_store's atomic write) has given the new file its name,
  which nothing has registered yet.
- ``register``: ``model_store.register`` has added the version; not committed.
- ``mark``: ``feedback.mark`` has marked the rows; not committed.
- ``sidecar``: the version and its rows are committed; ``model_store.write_sidecar`` has
  not started.

Two more points are about the lifetime of a label:

- ``drop``: a run publishing a version without a retracted or forgotten label has recorded
  the drop (``lifetime.mark_dropped``); not committed.
- ``carry``: ``train CSV`` (this point runs the train command instead) has registered the
  base with the carried labels after the plain base; not committed.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from movieclassifier import configure_logging, feedback, learning, lifetime, model_store, retrain
from movieclassifier.cli.operate import retrain_command
from movieclassifier.cli.train import train_command
from movieclassifier.config import Settings


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, then death."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        function(*args, **kwargs)
        die()

    return run


def before(function: Callable[..., Any]) -> Callable[..., Any]:
    """Death instead of ``function``."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        die()

    return run


def after_renaming_a_model_file(replace: Callable[..., Any]) -> Callable[..., Any]:
    """``os.replace``, then death when it named a model file (not a sidecar)."""

    @functools.wraps(replace)
    def run(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        replace(src, dst, *args, **kwargs)
        name = Path(dst).name
        if name.startswith(model_store.FILE_PREFIX) and name.endswith(model_store.FILE_SUFFIX):
            die()

    return run


def arm_claim() -> None:
    retrain.claim = after(retrain.claim)


def arm_learn() -> None:
    learning.learn = after(learning.learn)


def arm_rename() -> None:
    # model_store renames with ``os.replace``; this wraps it for the whole process, which
    # runs nothing else, and only the rename of a model file (not a sidecar's) kills.
    model_store.os.replace = after_renaming_a_model_file(model_store.os.replace)


def arm_register() -> None:
    model_store.register = after(model_store.register)


def arm_mark() -> None:
    feedback.mark = after(feedback.mark)


def arm_sidecar() -> None:
    model_store.write_sidecar = before(model_store.write_sidecar)


def arm_drop() -> None:
    lifetime.mark_dropped = after(lifetime.mark_dropped)


def arm_carry() -> None:
    register = model_store.register

    def run(*args: Any, **kwargs: Any) -> Any:
        row = register(*args, **kwargs)
        if kwargs.get("carried_from") is not None:
            die()
        return row

    model_store.register = run


ARM = {
    "claim": arm_claim,
    "learn": arm_learn,
    "rename": arm_rename,
    "register": arm_register,
    "mark": arm_mark,
    "sidecar": arm_sidecar,
    "drop": arm_drop,
    "carry": arm_carry,
}
# The seams of every batch a run learns, in order.
POINTS = ("claim", "learn", "rename", "register", "mark", "sidecar")
# The points in ``train`` rather than ``retrain``.
TRAIN_POINTS = ("carry",)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ARM:
        sys.exit(f"usage: crashing_retrain.py {{{','.join(ARM)}}} [command options]")
    ARM[argv[0]]()
    configure_logging(Settings.from_env().log_level)
    command = train_command if argv[0] in TRAIN_POINTS else retrain_command
    command(args=argv[1:], prog_name="crashing_retrain.py")


if __name__ == "__main__":
    main(sys.argv[1:])
