"""The package's __all__ is honest."""

from __future__ import annotations

import importlib
import pkgutil

import bot.slack_io


def test_all_names_exist_and_every_module_declares_all() -> None:
    """Every exported name resolves, and each submodule lists its own public names."""
    for name in bot.slack_io.__all__:
        assert hasattr(bot.slack_io, name), name
    for module_info in pkgutil.iter_modules(bot.slack_io.__path__):
        module = importlib.import_module(f"bot.slack_io.{module_info.name}")
        assert hasattr(module, "__all__"), module_info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{module_info.name}.{name}"


def test_package_reexports_every_public_name_of_its_modules() -> None:
    """Nothing a module exports is missing from the package."""
    exported = set(bot.slack_io.__all__)
    for module_info in pkgutil.iter_modules(bot.slack_io.__path__):
        module = importlib.import_module(f"bot.slack_io.{module_info.name}")
        assert set(module.__all__) <= exported, module_info.name
