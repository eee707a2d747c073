"""Loaded by pytest.ini (``-p localdev.pytest_plugin``): a test run from a checkout with no servers
named gets the embedded ones, before pytest-django loads the settings."""

import pytest

from localdev import embedded


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before every plain implementation, pytest-django's (which reads the settings) too.
    embedded.use_unless_configured()
    return (yield)
