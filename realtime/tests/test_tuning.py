import pprint

import txaio
from autobahn.websocket import protocol

from realtime import tuning

CONFIG = [("autoPingInterval", 60, "WebSocketServerFactory"), ("openHandshakeTimeout", 30, "WebSocketServerFactory")]


def _counting_pformat(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(tuning, "pformat", lambda obj: calls.append(obj) or pprint.pformat(obj))
    monkeypatch.setattr(protocol, "pformat", lambda obj: calls.append(obj) or pprint.pformat(obj))
    return calls


def test_autobahn_formats_its_configuration_only_for_a_line_that_is_written(monkeypatch):
    txaio.use_twisted()
    calls = _counting_pformat(monkeypatch)
    monkeypatch.setattr(protocol.Timings, "__str__", protocol.Timings.__str__)
    txaio.set_global_log_level("info")
    quiet = txaio.make_logger()

    # As shipped, the debug line's text is made for a logger that drops it.
    quiet.debug("\n{attrs}", attrs=protocol.pformat(CONFIG))
    assert len(calls) == 1

    tuning.defer_autobahn_config_dump()
    quiet.debug("\n{attrs}", attrs=protocol.pformat(CONFIG))
    assert len(calls) == 1

    # Written, it reads as before.
    assert "{attrs}".format(attrs=protocol.pformat(CONFIG)) == pprint.pformat(CONFIG)
    assert str(protocol.pformat(CONFIG)) == pprint.pformat(CONFIG)
    assert len(calls) == 3


def test_autobahn_timings_still_print_as_text(monkeypatch):
    monkeypatch.setattr(protocol, "pformat", protocol.pformat)
    monkeypatch.setattr(protocol.Timings, "__str__", protocol.Timings.__str__)
    tuning.defer_autobahn_config_dump()
    timings = protocol.Timings()
    timings.track("onOpen")

    assert "onOpen" in str(timings)


def test_a_full_collection_shows_in_the_metrics_with_its_pause():
    import gc

    from realtime import metrics

    def full_collections(suffix: str = "_count") -> float:
        samples = [sample for family in metrics.gc_pauses.collect() for sample in family.samples]
        return next((sample.value for sample in samples
                     if sample.name == "dealcast_gc_pause_seconds" + suffix and sample.labels["generation"] == "2"), 0.0)

    # The callback list is the interpreter's own: edited in place, put back as it was (an earlier test
    # may have loaded config.asgi, which registers the timing for the whole process).
    registered = list(gc.callbacks)
    gc.callbacks[:] = [callback for callback in registered if callback is not tuning.time_collections]
    try:
        before = full_collections()
        gc.collect()
        assert full_collections() == before  # positive control: nobody is timing yet
        gc.callbacks.append(tuning.time_collections)
        gc.collect()
        assert full_collections() == before + 1
    finally:
        gc.callbacks[:] = registered
    assert full_collections("_sum") > 0
