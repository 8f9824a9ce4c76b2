"""Builds the package's one C extension, ``movieclassifier.features._hashing``.

Everything else is in pyproject.toml. The extension is optional: without a C compiler the
install still succeeds, with a warning, and the features run in Python (the same features,
several times slower; ``movieclassifier.features`` logs a warning when it serves them).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "movieclassifier.features._hashing",
            ["movieclassifier/features/_hashing.c"],
            extra_compile_args=["-O3", "-Wall", "-Wextra"],
            optional=True,
        )
    ],
)
