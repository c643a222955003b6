"""Imports every module that registers steps, so `get_step` and `gristmill steps` see them all.

Step modules live in the packages below; any module there that calls ``@register`` is found
without being listed by hand.
"""
import importlib
import pkgutil

_PACKAGES = ("gristmill.annotate", "gristmill.dedup", "gristmill.selectors")

for _pkg_name in _PACKAGES:
    _pkg = importlib.import_module(_pkg_name)
    for _mod in pkgutil.iter_modules(_pkg.__path__):
        if not _mod.name.startswith("_"):
            importlib.import_module(f"{_pkg_name}.{_mod.name}")
