"""Imports every module that registers steps, so `get_step` and `gristmill steps` see them all.

Step modules live in the packages below, or in their subpackages (``annotate/heuristics/``); any
module there that calls ``@register`` is found without being listed by hand.
"""
import importlib
import pkgutil

_PACKAGES = ("gristmill.annotate", "gristmill.dedup")

for _pkg_name in _PACKAGES:
    _pkg = importlib.import_module(_pkg_name)
    for _mod in pkgutil.walk_packages(_pkg.__path__, prefix=f"{_pkg_name}."):
        if not any(part.startswith("_") for part in _mod.name.split(".")):
            importlib.import_module(_mod.name)
