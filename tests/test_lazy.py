"""Packages with lazy attributes (s2i.lazy): every public name loads from the submodule that defines it, and
an unknown name fails as it does on any module."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["s2i.data", "s2i.encode", "s2i.evaluation"])
def test_every_public_name_resolves(package):
    mod = importlib.import_module(package)
    for name in mod.__all__:
        value = getattr(mod, name)
        assert getattr(value, "__module__", package).startswith(package), name
        assert vars(mod)[name] is value  # kept in the package: the next read is direct
    with pytest.raises(AttributeError, match=rf"module '{package}' has no attribute 'no_such_name'"):
        _ = mod.no_such_name
