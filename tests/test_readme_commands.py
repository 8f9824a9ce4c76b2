"""Every shell command in the README works when pasted into a fresh shell in the checkout.

The commands are the lines of the README's ```sh blocks (a trailing backslash continues a
line). Each runs through ``bash -c`` in the checkout, in an environment with nothing of
a virtualenv (no VIRTUAL_ENV, no venv's bin on PATH) and a database and model directory
under tmp_path:

- ``make TARGET`` must name a real target (``make -n TARGET``).
- ``.venv/bin/...``: the commands in ``RUN`` (short, touching only the temporary database)
  run for real, after a tiny model is published there. Every other one (long-running,
  or one that changes the checkout) runs as ``... --help``, and every option the README
  gives it must be in that help. A file the README names must exist.
- A line that calls ``curl`` needs a server on port 5000: left out (the API's tests cover
  what those examples do).
- Anything else must be on a fresh shell's PATH. A bare ``flask``, ``python``, ``pip``,
  ``gunicorn`` (anything that lives in ``.venv/bin``) is refused: a fresh shell has no
  ``.venv/bin`` on its PATH. ``python3.11 -m venv .venv``, which makes the venv, is the
  one exception.
"""

import csv
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import corpus
from servers import REPO_ROOT

README = REPO_ROOT / "README.md"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
BOOTSTRAP = ["python3.11", "-m", "venv", ".venv"]
NEEDS_A_SERVER = re.compile(r"\bcurl\b")  # anywhere in the line: `id=$(curl ... | ...)`
FLASK = [".venv/bin/flask", "--app", "movieclassifier"]
# Run for real: each is quick and touches only the test's database and model directory.
RUN = [
    [*FLASK, "init-db"],
    [*FLASK, "versions"],
    [*FLASK, "retrain"],
    [*FLASK, "quarantine", "list"],
    [".venv/bin/python", "scripts/retrain.py"],
]
LONG_RUNNING = {"--every", "--clock"}
FILE_LIKE = re.compile(r"^[\w./-]*(/[\w./-]+|\.(txt|csv|gz|py|toml))$")
SUBCOMMAND = re.compile(r"^[a-z][a-z-]*$")
COMMAND_TIMEOUT = 180


def readme_commands(text: str) -> list[str]:
    """The command lines of the ```sh blocks of ``text``, continuation lines joined."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if line.strip() and not line.strip().startswith("#"):
                commands.append(line.strip())
    return commands


def words(line: str) -> list[str]:
    return shlex.split(line, comments=True)


def fresh_path() -> str:
    """This machine's PATH without any virtualenv's bin directory."""
    kept = []
    for entry in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if entry and not (Path(entry).parent / "pyvenv.cfg").exists():
            kept.append(entry)
    return os.pathsep.join(kept)


def problem_with_program(tokens: list[str], path: str) -> str | None:
    """Why a fresh shell could not start this command's program, or None."""
    program = tokens[0]
    if tokens == BOOTSTRAP:
        return None if shutil.which("python3.11", path=path) else "python3.11 is not on PATH"
    if "/" in program:
        target = REPO_ROOT / program
        return None if os.access(target, os.X_OK) else f"{program} does not exist"
    if (VENV_BIN / program).exists():
        return (
            f"{program!r} is a .venv/bin program: a fresh shell does not have .venv/bin on its "
            f"PATH, so write .venv/bin/{program}"
        )
    return None if shutil.which(program, path=path) else f"{program} is not on PATH"


def help_form(tokens: list[str]) -> tuple[list[str], list[str]]:
    """``tokens`` as a ``--help`` command, and the options the help must list."""
    prefix, rest = tokens[:1], tokens[1:]
    if tokens[:3] == FLASK:
        prefix, rest = FLASK[:], tokens[3:]
    elif Path(tokens[0]).name.startswith("python") and rest:
        take = 2 if rest[0] == "-m" else 1
        prefix, rest = tokens[: 1 + take], rest[take:]
    while rest and SUBCOMMAND.match(rest[0]):
        prefix.append(rest.pop(0))
    options = [token.split("=")[0] for token in rest if token.startswith("-")]
    return [*prefix, "--help"], options


def files_named(tokens: list[str]) -> list[str]:
    return [t for t in tokens[1:] if not t.startswith("-") and FILE_LIKE.match(t)]


def run(command: list[str] | str, env: dict[str, str]) -> subprocess.CompletedProcess:
    line = command if isinstance(command, str) else shlex.join(command)
    return subprocess.run(
        ["bash", "-c", line],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def assert_worked(result: subprocess.CompletedProcess, line: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{line!r} exited {result.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, f"{line!r} printed a traceback:\n{output[-3000:]}"


COMMANDS = readme_commands(README.read_text())
# The curl examples need a server on port 5000; tests/test_api.py covers what they do.
RUNNABLE = [line for line in COMMANDS if not NEEDS_A_SERVER.search(line)]


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory):
    """A fresh shell's environment, on a database that has a tiny published model."""
    work = tmp_path_factory.mktemp("readme")
    env = {
        "PATH": fresh_path(),
        "HOME": os.environ.get("HOME", str(work)),
        "LANG": "C.UTF-8",
        "TMPDIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'reviews.sqlite'}",
        "MODEL_DIR": str(work / "models"),
    }
    csv_path = work / "train.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows([(text, 1) for text in corpus.POSITIVE_REVIEWS])
        writer.writerows([(text, 0) for text in corpus.NEGATIVE_REVIEWS])
    train = [".venv/bin/python", "scripts/train_stream.py", str(csv_path), "--quiet"]
    assert_worked(run(train, env), "train the tiny model")
    return env


def test_the_readme_has_commands_of_each_kind():
    programs = [words(line)[0] for line in COMMANDS]
    assert "make" in programs
    assert {".venv/bin/flask", ".venv/bin/python", ".venv/bin/pip"} <= set(programs), programs
    tokens = [words(line) for line in COMMANDS]
    assert sum(any(t[: len(r)] == r for r in RUN) for t in tokens) >= 3


@pytest.mark.parametrize(
    "line,expected",
    [
        ("flask --app movieclassifier versions", "'flask' is a .venv/bin program"),
        ("python scripts/retrain.py --clock", "'python' is a .venv/bin program"),
        ("pip install -r requirements.txt", "'pip' is a .venv/bin program"),
        (".venv/bin/flusk --app movieclassifier versions", "does not exist"),
        ("no-such-program --help", "not on PATH"),
    ],
)
def test_a_command_a_fresh_shell_cannot_start_is_refused(line, expected):
    problem = problem_with_program(words(line), fresh_path())
    assert problem and expected in problem


def test_the_help_form_keeps_the_subcommand_and_checks_the_options():
    assert help_form(shlex.split(".venv/bin/flask --app movieclassifier quarantine list -x 1")) == (
        [*FLASK, "quarantine", "list", "--help"],
        ["-x"],
    )
    assert help_form(shlex.split(".venv/bin/python scripts/t.py data/x.csv --holdout=5")) == (
        [".venv/bin/python", "scripts/t.py", "--help"],
        ["--holdout"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("line", RUNNABLE, ids=[" ".join(words(line)[:4]) for line in RUNNABLE])
def test_readme_command_works_in_a_fresh_shell(line, fresh_env):
    tokens = words(line)
    problem = problem_with_program(tokens, fresh_env["PATH"])
    assert problem is None, f"README command {line!r}: {problem}"
    for name in files_named(tokens):
        assert (REPO_ROOT / name).exists(), f"README command {line!r} names a missing {name}"
    if tokens == BOOTSTRAP:
        assert_worked(run(["python3.11", "-m", "venv", "--help"], fresh_env), line)
    elif tokens[0] == "make":
        assert_worked(run(["make", "-n", *tokens[1:]], fresh_env), line)
    elif any(tokens[: len(r)] == r for r in RUN) and not LONG_RUNNING & set(tokens):
        assert_worked(run(tokens, fresh_env), line)
    else:
        argv, options = help_form(tokens)
        result = run(argv, fresh_env)
        assert_worked(result, shlex.join(argv))
        for option in options:
            listed = re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout)
            assert listed, f"README command {line!r}: {option} is not in {shlex.join(argv)}"


PROCFILE = REPO_ROOT / "Procfile"


def procfile_commands() -> list[tuple[str, str]]:
    """(process, command) for each command of the Procfile, ``a && b`` split in two."""
    found = []
    for line in PROCFILE.read_text().splitlines():
        process, _, command = line.partition(":")
        found += [(process, part.strip()) for part in command.split("&&")]
    return found


def test_the_readme_quotes_the_procfile():
    quoted = re.search(r"The `Procfile`:\n\n```text\n(.*?)```", README.read_text(), re.DOTALL)
    assert quoted, "README.md lost its copy of the Procfile"
    assert quoted.group(1) == PROCFILE.read_text()
    processes = dict(procfile_commands())
    assert "--clock" in processes["clock"], "the clock must follow RETRAIN_EVERY"
    assert "--if-missing" in PROCFILE.read_text(), "the release must train only when needed"


@pytest.mark.slow
@pytest.mark.parametrize("process,command", procfile_commands())
def test_procfile_command_works(process, command, fresh_env):
    """On a dyno the buildpack's Python is on the PATH; here that is .venv/bin."""
    tokens = words(command)
    tokens[0] = f".venv/bin/{tokens[0]}"
    assert problem_with_program(tokens, fresh_env["PATH"]) is None
    argv, options = help_form(tokens)
    result = run(argv, fresh_env)
    assert_worked(result, shlex.join(argv))
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), option
