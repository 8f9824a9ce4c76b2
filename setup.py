"""Builds the one C extension, ``movieclassifier._hashing`` (text.py's feature hashing).

The Makefile runs ``python setup.py build_ext --inplace``; the project itself is not
installed as a package. Without a C compiler text.py falls back to numpy (same features,
several times slower).
"""

from setuptools import Extension, setup

setup(
    name="movieclassifier",
    packages=[],
    ext_modules=[
        Extension(
            "movieclassifier._hashing",
            ["movieclassifier/_hashing.c"],
            extra_compile_args=["-O3", "-Wall", "-Wextra"],
        )
    ],
)
