"""Load generator, run as its own process: many real WebSocket shoppers, or HTTP pollers.

Socket mode connects every session (bounded concurrency), writes ``{"connected": n, "connect_s": t}``
to the ready file, then records each event frame's latency (receipt time minus the envelope's
``occurred_at``, which is stamped inside the committing transaction) until told to stop by SIGTERM.
SIGUSR1 writes the latencies so far to ``OUT.partial``; SIGUSR2 is a reconnect storm: every socket
drops and reconnects at once, resuming from its cursor and retrying as the page does, and
``READY.storm`` says when all are back.
Poll mode asks an endpoint every ``--interval`` seconds per client and records staleness: when a
poller first sees a deal, minus when it was published.
"""

from __future__ import annotations

import argparse
import asyncio
from array import array
import gc
import json
import random
import resource
import signal
import ssl
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import orjson
import websockets

# A page keeps trying for as long as it is open; the benchmark gives up on a shopper after this.
STORM_DEADLINE_S = 300.0
YOUNG_COLLECTION_THRESHOLD = 50_000


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Recorder:
    def __init__(self) -> None:
        # Each frame's receipt time and latency, in arrays of plain doubles: a (received at, latency)
        # tuple a frame was an object the collector tracks, so at 11,800 frames/s this process made a
        # young collection every ~4 s (5 × 65 ms in the 75 changes/s phase, and a 216 ms older one at
        # 60/s), each pausing every socket's reading and showing up in the tail it measured.
        self.received_at = array("d")
        self.latency_ms = array("d")
        self.frames = 0
        self.bytes = 0
        self.requests = 0
        self.not_modified = 0
        self.first_seen: dict[int, float] = {}
        self.errors = 0
        self.duplicates = 0
        self.received: dict[str, list[str]] = {}
        # Snapshots after the first (a resume answered with one, or a resync): session -> their cursors.
        self.snapshots: dict[str, list[str]] = {}
        # Sockets the server closed while the shopper was reading, by close code; each came back from its
        # cursor as the page does (``reconnects_after_close``).
        self.closed_by_server: dict[str, int] = {}
        self.reconnects_after_close = 0

    def record(self, received_at: float, latency_ms: float) -> None:
        self.received_at.append(received_at)
        self.latency_ms.append(latency_ms)

    def latencies_json(self, **more) -> str:
        """The (received at, latency) pairs as the benchmark's driver reads them, and ``more``. The
        pairs are built with collections off, so building them pauses nothing but this call."""
        gc.disable()
        try:
            return json.dumps({"latencies_ms": list(zip(self.received_at, self.latency_ms)), **more})
        finally:
            gc.enable()


class CollectionTimer:
    """This process's garbage collections, timed. A pause here delays every frame it is reading, and
    the frames' latencies are stamped after it: a tail the server did not cause."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []  # (began at, pause ms, generation)
        self._began = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.time()
        else:
            self.pauses.append((self._began, round((time.time() - self._began) * 1000, 1), info["generation"]))


def keep_out_of_collections() -> None:
    """Collect, then leave what is alive (thousands of sockets, for the rest of the run) out of later
    collections. Left in, a full collection of 10,000 clients paused this process for a second
    (``CollectionTimer``) and every frame it read then looked a second late: the 10 changes/s phase's
    p99 was 963 ms with no collection in the web process at all. Young collections are also made
    rarer, as in the web process (``realtime.tuning``): reading 4,000 frames/s at CPython's
    threshold, its collections paused it 64, 18 and once (624 ms) per generation in 20 s."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


class SocketShopper:
    """One shopper's socket: connects, keeps its cursor, and on a storm reconnects resuming from it."""

    def __init__(self, url: str, origin: str, shopper: dict, rec: Recorder) -> None:
        self.url, self.origin, self.shopper, self.rec = url, origin, shopper, rec
        self.cursor: str | None = None
        self.ws = None
        self.seen: dict[str, int] = {}
        self.received_ids: list[str] = []
        self.snapshot_cursors: list[str] = []

    async def open(self, *, resume: bool) -> None:
        # As the live page connects: it shows the saved location before it opens the socket, so the
        # area (and, reconnecting, the cursor) is in the URL and the server need not read the account.
        area = {"lat": self.shopper["lat"], "lng": self.shopper["lng"], "radius_km": self.shopper["radius_km"]}
        url = self.url + "?" + urlencode({**area, "after": self.cursor} if resume else area)
        self.ws = await websockets.connect(
            url, additional_headers={"Cookie": f"sessionid={self.shopper['session']}", "Origin": self.origin},
            open_timeout=120, max_size=2**24, ping_interval=None, close_timeout=1)
        if not resume:
            snapshot = orjson.loads(await self.ws.recv())
            self.cursor = snapshot["cursor"]

    def handle(self, frame: dict, now: float) -> None:
        self.rec.frames += 1
        if frame.get("type") != "event":
            if frame.get("type") == "snapshot":
                self.cursor = frame["cursor"]
                self.snapshot_cursors.append(frame["cursor"])
            return
        self.cursor = frame["cursor"]
        event = frame["event"]
        count = self.seen.get(event["id"], 0) + 1
        self.seen[event["id"]] = count
        if count > 1:
            self.rec.duplicates += 1
            return
        self.rec.record(now, (now - _ts(event["occurred_at"])) * 1000)
        self.received_ids.append(event["id"])

    async def read(self) -> None:
        try:
            while True:
                message = await self.ws.recv()
                self.rec.bytes += len(message)
                self.handle(orjson.loads(message), time.time())
        except websockets.ConnectionClosed as closed:
            code = str(closed.rcvd.code if closed.rcvd else "none")
            self.rec.closed_by_server[code] = self.rec.closed_by_server.get(code, 0) + 1
            raise


async def run_sockets(args, shoppers: list[dict], rec: Recorder, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    clients = [SocketShopper(args.url, args.origin, s, rec) for s in shoppers]
    gate = asyncio.Semaphore(args.concurrency)

    async def connect(client: SocketShopper, resume: bool) -> bool:
        async with gate:
            try:
                await client.open(resume=resume)
                return True
            except Exception:  # noqa: BLE001 - counted, the run goes on
                rec.errors += 1
                return False

    started = time.monotonic()
    ok = await asyncio.gather(*(connect(c, False) for c in clients))
    connect_s = time.monotonic() - started
    keep_out_of_collections()
    Path(args.ready).write_text(json.dumps({"connected": sum(ok), "failed": len(ok) - sum(ok), "connect_s": connect_s}))
    async def keep_reading(client: SocketShopper) -> None:
        """Read frames; when the server closes the socket, come back from the cursor as the page does."""
        while True:
            try:
                await client.read()
            except websockets.ConnectionClosed:
                if await reconnect_as_the_page_does(client, time.monotonic() + STORM_DEADLINE_S) is None:
                    return
                rec.reconnects_after_close += 1

    readers = {c: asyncio.create_task(keep_reading(c)) for c, connected in zip(clients, ok) if connected}

    async def reconnect_as_the_page_does(client: SocketShopper, deadline: float) -> int | None:
        """Reconnect from the cursor until it works, waiting as static/js/live.js does between tries
        (doubling from one second to 15 s, with jitter); returns the tries it took, or None past the deadline."""
        tries = 0
        while True:
            tries += 1
            if await connect(client, True):
                return tries
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(min(15.0, 0.5 * 2 ** tries) + random.random() * 0.5)

    async def storm() -> None:
        # Every shopper loses the connection at once and comes back, resuming from its cursor.
        for task in readers.values():
            task.cancel()
        await asyncio.gather(*(c.ws.close() for c in readers), return_exceptions=True)
        begun = time.monotonic()
        clients_back = list(readers)

        async def come_back(client: SocketShopper) -> int | None:
            took = await reconnect_as_the_page_does(client, begun + STORM_DEADLINE_S)
            if took:
                # Read at once, as a page does: frames left unread stop the client answering pings.
                readers[client] = asyncio.create_task(keep_reading(client))
            return took

        tries = await asyncio.gather(*(come_back(c) for c in clients_back))
        storm_s = time.monotonic() - begun
        # The sockets from before the storm are garbage now: collected once, the new ones kept out.
        gc.unfreeze()
        keep_out_of_collections()
        back = [took for took in tries if took]
        Path(args.ready + ".storm").write_text(json.dumps({
            "reconnected": len(back), "failed": len(tries) - len(back), "storm_s": storm_s,
            "retried": sum(1 for took in back if took > 1), "most_tries": max(back, default=0),
            "not_back": [c.shopper["session"] for c, took in zip(clients_back, tries) if not took]}))

    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(storm()))
    collections = CollectionTimer()
    loop.add_signal_handler(signal.SIGUSR1, lambda: Path(args.out + ".partial").write_text(
        rec.latencies_json(gc_pauses=collections.pauses)))
    await stop.wait()
    for task in readers.values():
        task.cancel()
    await asyncio.gather(*readers.values(), return_exceptions=True)
    rec.received = {c.shopper["session"]: c.received_ids for c in clients if c.received_ids}
    rec.snapshots = {c.shopper["session"]: c.snapshot_cursors for c in clients if c.snapshot_cursors}


async def poll_client(base: str, path: str, session: str, interval: float, rec: Recorder, stop: asyncio.Event,
                      published: dict[int, float], use_etag: bool, tls: ssl.SSLContext) -> None:
    import httpx

    await asyncio.sleep(interval * (hash(session) % 1000) / 1000)
    cursor = None
    etag = None
    seen: set[int] = set()
    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session}, timeout=30, verify=tls) as client:
        while not stop.is_set():
            started = time.time()
            url = path if cursor is None or not use_etag else f"{path}&after={cursor}"
            headers = {"If-None-Match": etag} if (use_etag and etag) else {}
            try:
                response = await client.get(url, headers=headers)
            except httpx.HTTPError:
                rec.errors += 1
                await asyncio.sleep(interval)
                continue
            rec.requests += 1
            rec.bytes += len(response.content) + sum(len(k) + len(v) for k, v in response.headers.items())
            now = time.time()
            if response.status_code == 304:
                rec.not_modified += 1
            elif response.status_code == 200:
                body = response.json()
                if use_etag:
                    etag = response.headers.get("ETag")
                    cursor = body["cursor"]
                    ids = [e["event"]["data"]["id"] for e in body.get("events", [])
                           if e["event"]["type"] == "discount.published"]
                    stamps = {e["event"]["data"]["id"]: _ts(e["event"]["occurred_at"]) for e in body.get("events", [])}
                else:
                    ids = [d["id"] for d in body["results"]]
                    stamps = {d["id"]: _ts(d["starts_at"]) for d in body["results"]}
                for deal_id in ids:
                    if deal_id not in seen:
                        seen.add(deal_id)
                        if stamps[deal_id] >= published.get("since", 0):
                            rec.record(now, (now - stamps[deal_id]) * 1000)
            await asyncio.sleep(max(0.0, interval - (time.time() - started)))


async def main_async(args) -> None:
    sessions = json.loads(Path(args.sessions).read_text())
    rec = Recorder()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if args.mode == "socket":
        await run_sockets(args, sessions, rec, stop)
    else:
        published = {"since": time.time()}
        # One TLS context for every client: httpx builds one per client otherwise, loading the CA
        # bundle each time (~50 ms here), and 500 pollers spent the whole phase on it.
        tls = ssl.create_default_context()
        tasks = [asyncio.create_task(poll_client(
            args.base, f"{args.path}&lat={s['lat']}&lng={s['lng']}&radius_km={args.radius}", s["session"],
            args.interval, rec, stop, published, args.mode == "changes", tls)) for s in sessions]
        Path(args.ready).write_text(json.dumps({"connected": len(sessions)}))
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    Path(args.out).write_text(rec.latencies_json(
        frames=rec.frames, bytes=rec.bytes, requests=rec.requests,
        not_modified=rec.not_modified, errors=rec.errors, duplicates=rec.duplicates,
        received=rec.received,
        snapshots=rec.snapshots,
        closed_by_server=rec.closed_by_server, reconnects_after_close=rec.reconnects_after_close,
    ))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["socket", "poll", "changes"], required=True)
    parser.add_argument("--url")
    parser.add_argument("--origin")
    parser.add_argument("--base")
    parser.add_argument("--path")
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--radius", type=float, default=2.0)
    parser.add_argument("--sessions", required=True)
    parser.add_argument("--concurrency", type=int, default=400)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    raise_fd_limit()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
