import pytest
from django.core import checks

from config.checks import production_settings_safe, websocket_origin_validated


def test_deploy_checks_flag_local_mode_and_wildcard_hosts(settings):
    settings.LOCAL_MODE = True
    settings.ALLOWED_HOSTS = ["*"]
    ids = {e.id for e in production_settings_safe(None)}
    assert {"dealcast.E002", "dealcast.E003"} <= ids


def test_deploy_checks_pass_for_production_settings(settings):
    settings.LOCAL_MODE = False
    settings.ALLOWED_HOSTS = ["dealcast.example.com"]
    settings.SECRET_KEY = "x" * 60
    settings.SITE_URL = "https://dealcast.example.com"
    assert production_settings_safe(None) == []


@pytest.mark.parametrize("site_url", ["", "http://dealcast.example.com"])
def test_deploy_checks_ask_for_an_https_site_url_for_links_in_mail(settings, site_url):
    settings.LOCAL_MODE = False
    settings.ALLOWED_HOSTS = ["dealcast.example.com"]
    settings.SECRET_KEY = "x" * 60
    settings.SITE_URL = site_url
    assert [e.id for e in production_settings_safe(None)] == ["dealcast.E007"]


def test_socket_router_without_origin_validation_fails_the_check(monkeypatch):
    from config import asgi

    assert websocket_origin_validated(None) == []
    router = asgi.application.application_mapping["websocket"]
    monkeypatch.setitem(asgi.application.application_mapping, "websocket", router.application)
    errors = websocket_origin_validated(None)
    assert [e.id for e in errors] == ["dealcast.E001"]
    assert errors[0].level == checks.ERROR


@pytest.mark.django_db  # the login page lists the city's deals
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs/"])
def test_pages_send_a_csp_without_inline_script(client, path):
    header = client.get(path)["Content-Security-Policy"]
    script_src = next(part for part in header.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in header
