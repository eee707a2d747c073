"""Tooling for running Dealcast from a checkout: embedded PostgreSQL and Valkey under ``var/``, the
``make run`` launcher and its fallback balancer. Used by ``manage.py``, the launcher, the tests and
the benchmark; never by the app's settings or code (production names its servers in the environment).
"""
