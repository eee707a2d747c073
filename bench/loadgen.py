"""Load generator, run as its own process: many real WebSocket shoppers, or HTTP pollers.

Socket mode connects every session (bounded concurrency), writes ``{"connected": n, "connect_s": t}``
to the ready file, then records each event frame's latency (receipt time minus the envelope's
``occurred_at``, which is stamped inside the committing transaction) until told to stop by SIGTERM.
Poll mode asks an endpoint every ``--interval`` seconds per client and records staleness: when a
poller first sees a deal, minus when it was published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import time
from datetime import datetime
from pathlib import Path

import websockets


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Recorder:
    def __init__(self) -> None:
        self.latencies_ms: list[tuple[float, float]] = []  # (received at, latency)
        self.frames = 0
        self.bytes = 0
        self.requests = 0
        self.not_modified = 0
        self.first_seen: dict[int, float] = {}
        self.errors = 0


async def socket_client(url: str, origin: str, session: str, rec: Recorder, connected: asyncio.Event,
                        counter: list[int], total: int, stop: asyncio.Event, gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            ws = await websockets.connect(url, additional_headers={"Cookie": f"sessionid={session}", "Origin": origin},
                                          open_timeout=60, max_size=2**24, ping_interval=None)
            await ws.recv()  # the snapshot of the saved location
        except Exception:  # noqa: BLE001 - counted, the run goes on
            rec.errors += 1
            counter[1] += 1
            if counter[0] + counter[1] >= total:
                connected.set()
            return
    counter[0] += 1
    if counter[0] + counter[1] >= total:
        connected.set()
    try:
        while not stop.is_set():
            message = await ws.recv()
            now = time.time()
            rec.frames += 1
            rec.bytes += len(message)
            if '"type":"event"' in message[:20]:
                at = message.find('"occurred_at":"') + 15
                rec.latencies_ms.append((now, (now - _ts(message[at:message.find('"', at)])) * 1000))
    except Exception:  # noqa: BLE001 - closed at the end of the run
        pass
    finally:
        await ws.close()


async def poll_client(base: str, path: str, session: str, interval: float, rec: Recorder, stop: asyncio.Event,
                      published: dict[int, float], use_etag: bool) -> None:
    import httpx

    await asyncio.sleep(interval * (hash(session) % 1000) / 1000)
    cursor = None
    etag = None
    seen: set[int] = set()
    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session}, timeout=30) as client:
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
                            rec.latencies_ms.append((now, (now - stamps[deal_id]) * 1000))
            await asyncio.sleep(max(0.0, interval - (time.time() - started)))


async def main_async(args) -> None:
    sessions = json.loads(Path(args.sessions).read_text())
    rec = Recorder()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if args.mode == "socket":
        connected = asyncio.Event()
        counter = [0, 0]
        gate = asyncio.Semaphore(args.concurrency)
        started = time.monotonic()
        tasks = [asyncio.create_task(socket_client(args.url, args.origin, s["session"], rec, connected, counter,
                                                   len(sessions), stop, gate)) for s in sessions]
        await connected.wait()
        Path(args.ready).write_text(json.dumps({"connected": counter[0], "failed": counter[1],
                                                "connect_s": time.monotonic() - started}))
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    else:
        published = {"since": time.time()}
        tasks = [asyncio.create_task(poll_client(
            args.base, f"{args.path}&lat={s['lat']}&lng={s['lng']}&radius_km={args.radius}", s["session"],
            args.interval, rec, stop, published, args.mode == "changes")) for s in sessions]
        Path(args.ready).write_text(json.dumps({"connected": len(sessions)}))
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    Path(args.out).write_text(json.dumps({
        "latencies_ms": rec.latencies_ms, "frames": rec.frames, "bytes": rec.bytes, "requests": rec.requests,
        "not_modified": rec.not_modified, "errors": rec.errors,
    }))


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
