"""Builds the optional compiled kernels (src/gristmill/_native.pyx); everything else is in pyproject.toml.

If the C compiler fails, the install still succeeds and gristmill uses its pure-Python paths
(same results, slower); `python -c "import gristmill._native"` tells which one you have.
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize([Extension("gristmill._native", ["src/gristmill/_native.pyx"], optional=True)],
                            language_level=3))
