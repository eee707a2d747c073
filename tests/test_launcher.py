"""`make run WEB=2 WORKERS=2` as a person runs it: one address, live updates, Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from django.db import connection

from harness.shopper import ShopperSocket
from harness.stack import free_port, wait_http

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.stack

# A black-box probe lost the first deal after its sockets sat idle ~50 s behind the balancer (issue 11).
IDLE_SECONDS = 65


@pytest.fixture
def fresh_database(django_db_blocker):
    with django_db_blocker.unblock():
        s = connection.settings_dict
    name = f"dealcast_launch_{uuid.uuid4().hex[:8]}"
    admin = dict(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None, dbname="postgres")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{name}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def login_cookie(base: str, username: str, password: str) -> str:
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/").read().decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token}).encode()
    opener.open(urllib.request.Request(f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}))
    return next(c.value for c in jar if c.name == "sessionid")


def launched(sock) -> dict:
    """The event of the deal the test publishes; the demo city's own deals may change meanwhile (one
    expiring at its end time, say) and reach the same shoppers first."""
    deadline = time.monotonic() + 10
    while True:
        frame = sock.next("event", timeout=max(0.1, deadline - time.monotonic()))
        if frame["event"]["data"]["product"] == "Launched":
            return frame


def signup_cookie(base: str, username: str) -> str:
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/signup/").read().decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    data = urllib.parse.urlencode({
        "username": username, "email": "", "password1": "plum-tree-4711", "password2": "plum-tree-4711",
        "csrfmiddlewaretoken": token,
    }).encode()
    opener.open(urllib.request.Request(f"{base}/accounts/signup/", data=data, headers={"Referer": f"{base}/accounts/signup/"}))
    return next(c.value for c in jar if c.name == "sessionid")


def free_port_run(length: int) -> int:
    """A free port whose next ``length - 1`` ports are free too: the launcher's backends take them."""
    for _ in range(100):
        port = free_port()
        if all(_port_free(port + i) for i in range(1, length)):
            return port
    raise RuntimeError(f"no run of {length} free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_launcher_serves_two_web_processes_behind_one_address(fresh_database, tmp_path):
    # The balancer on the port, the two web processes on the next two (a taken one failed this test once).
    port = free_port_run(3)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PORT": str(port)}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(tmp_path / "launcher.log", "wb")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "localdev.launcher", "--port", str(port), "--web", "2", "--workers", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", timeout=120)
        output = (tmp_path / "launcher.log").read_text()
        assert "shopper / shop-demo-2026" in output and "2 web, 2 worker" in output
        # a shopper connects through the balancer and sees a deal staff publish through it
        shopper = ShopperSocket(f"ws://127.0.0.1:{port}/ws/deals/", session=login_cookie(base, "shopper", "shop-demo-2026"),
                                origin=base)
        shopper.next("snapshot")
        # and thirty more shoppers sign up and watch the same market, spread over both web processes
        with psycopg.connect(fresh_database) as conn:
            # the demo market nearest the shopper's saved location (the city centre), and its staff member
            market_id, lat, lng, staff_name = conn.execute(
                "SELECT m.id, m.lat, m.lng, u.username FROM markets_market m"
                " JOIN markets_market_staff s ON s.market_id = m.id JOIN accounts_user u ON u.id = s.user_id"
                " ORDER BY (m.lat - 52.52) ^ 2 + ((m.lng - 13.405) * 0.61) ^ 2 LIMIT 1"
            ).fetchone()
        others = []
        for i in range(30):
            other = ShopperSocket(f"ws://127.0.0.1:{port}/ws/deals/", session=signup_cookie(base, f"probe{i}"), origin=base)
            other.subscribe(lat=lat, lng=lng, radius_km=2)
            other.next("snapshot")
            others.append(other)
        # and every socket then sits idle for more than a minute (balancer and keepalive timeouts)
        time.sleep(IDLE_SECONDS)
        staff_token = subprocess.run(
            [sys.executable, "manage.py", "drf_create_token", staff_name], cwd=ROOT, env=env, capture_output=True, text=True
        ).stdout.split()[2]
        body = json.dumps({"market": market_id, "product": "Launched", "category": "produce", "original_price": "2.00",
                           "price": "1.00", "ends_at": "2099-01-01T00:00:00Z"}).encode()
        request = urllib.request.Request(f"{base}/api/discounts/", data=body, method="POST",
                                         headers={"Authorization": f"Token {staff_token}", "Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=10).status == 201
        assert launched(shopper)["event"]["type"] == "discount.published"
        for other in others:
            assert launched(other)["event"]["type"] == "discount.published"
            other.close()
        shopper.close()
        children = psutil.Process(launcher.pid).children(recursive=True)
        assert sum(any(part.endswith("bin/daphne") for part in c.cmdline()) for c in children) == 2
    finally:
        # Ctrl-C, as a person would
        os.killpg(launcher.pid, signal.SIGINT)
        launcher.wait(timeout=60)
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
