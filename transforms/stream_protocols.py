"""The venues' liquidation streams as the wire carries them: addresses, subscriptions, heartbeats
and the shapes of the frames they send.

Binance USDⓈ-M pushes every market's force orders on ``!forceOrder@arr``; the address is the
subscription. Since Binance split its futures WebSocket hosts by kind of data (its "Important
WebSocket Change Notice", legacy addresses retired 2026-04-23), the stream belongs to the routed
``/market`` endpoint: ``wss://fstream.binance.com/market/ws/!forceOrder@arr``. An unrouted
``wss://fstream.binance.com/ws/…`` connection is accepted but receives only the ``/public``
streams (book tickers, depth), so it would sit silent. A frame is the event itself,
``{"e":"forceOrder","E":…,"o":{…}}``, or, on the combined-stream addresses
(``/market/stream?streams=!forceOrder@arr``), the same event wrapped as
``{"stream":"!forceOrder@arr","data":{…}}``; both are liquidation messages.

Bybit has no all-market topic: ``{"op":"subscribe","args":["allLiquidation.BTCUSDT",…]}``, ten
topics per request, each acknowledged ``{"op":"subscribe","success":true,…}``; it pushes
``{"topic":"allLiquidation.X","data":[…]}`` and wants ``{"op":"ping"}`` every 20 s. OKX takes
``{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}``, acknowledges
``{"event":"subscribe",…}``, pushes ``{"arg":{"channel":"liquidation-orders",…},"data":[…]}``
and wants the text ``ping`` every 25 s (it answers ``pong``). Binance pings the client itself
and the WebSocket library answers.
"""

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

VENUES: Final = ("binance_um", "bybit", "okx")
"""The venues the recorder knows, by the warehouse's exchange ids (their folder names)."""

WS_URL_ENV: Final = {
    "binance_um": "TREADMILL_BINANCE_WS_URL",
    "bybit": "TREADMILL_BYBIT_WS_URL",
    "okx": "TREADMILL_OKX_WS_URL",
}
DEFAULT_WS_URLS: Final = {
    "binance_um": "wss://fstream.binance.com/market/ws/!forceOrder@arr",
    "bybit": "wss://stream.bybit.com/v5/public/linear",
    "okx": "wss://ws.okx.com:8443/ws/v5/public",
}

STALL_SECONDS: Final = 60.0
"""No frame for this long on an open connection is a stall (the spec's "no message for 60 s")."""
BYBIT_PING_SECONDS: Final = 20.0
OKX_PING_SECONDS: Final = 25.0
BYBIT_TOPICS_PER_REQUEST: Final = 10
"""Bybit refuses subscribe requests with more than ten topics."""


class Frame(IntEnum):
    """What a received frame is, for the counters (every kind is written verbatim)."""

    DATA = 0
    """A liquidation message of the venue's documented shape."""
    CONTROL = 1
    """A pong, a notice, an answer to something the recorder sent."""
    ACK = 2
    """A subscription acknowledgement: recording counts as resumed when all have come."""
    REJECTED = 3
    """A refused subscription: the venue answered, but will send nothing for it."""
    NOT_JSON = 4
    UNKNOWN_SHAPE = 5
    BINARY = 6


GARBAGE_KINDS: Final = {
    Frame.NOT_JSON: "not JSON",
    Frame.UNKNOWN_SHAPE: "JSON of an unknown shape",
    Frame.BINARY: "a binary frame",
}

_loads = json.loads


def classify_binance(text: str) -> Frame:
    """``{"e":"forceOrder","E":…,"o":{…}}`` is data, bare or in the combined-stream wrapper
    ``{"stream":…,"data":{…}}``; ``{"result":…,"id":…}`` answers a request."""
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        if message.get("e") == "forceOrder" and type(message.get("o")) is dict:
            return Frame.DATA
        data = message.get("data")
        if type(data) is dict and type(message.get("stream")) is str:
            if data.get("e") == "forceOrder" and type(data.get("o")) is dict:
                return Frame.DATA
            return Frame.UNKNOWN_SHAPE
        if "result" in message and "id" in message:
            return Frame.CONTROL
    return Frame.UNKNOWN_SHAPE


def classify_bybit(text: str) -> Frame:
    """``{"topic":"allLiquidation.X","data":[…]}`` is data; ``{"op":…}`` answers the client."""
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        topic = message.get("topic")
        if topic is not None:
            if (
                type(topic) is str
                and topic.startswith("allLiquidation.")
                and type(message.get("data")) is list
            ):
                return Frame.DATA
            return Frame.UNKNOWN_SHAPE
        op = message.get("op")
        if op == "subscribe":
            return Frame.ACK if message.get("success") is True else Frame.REJECTED
        if op in ("ping", "pong", "unsubscribe"):
            return Frame.CONTROL
    return Frame.UNKNOWN_SHAPE


def classify_okx(text: str) -> Frame:
    """``{"arg":{"channel":"liquidation-orders",…},"data":[…]}`` is data; ``pong`` and
    ``{"event":…}`` are control (``subscribe`` acknowledges, ``error`` refuses)."""
    if text == "pong":
        return Frame.CONTROL
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        event = message.get("event")
        if event is not None:
            if event == "subscribe":
                return Frame.ACK
            return Frame.REJECTED if event == "error" else Frame.CONTROL
        arg = message.get("arg")
        if (
            type(arg) is dict
            and arg.get("channel") == "liquidation-orders"
            and type(message.get("data")) is list
        ):
            return Frame.DATA
    return Frame.UNKNOWN_SHAPE


@dataclass(frozen=True)
class VenueStream:
    """One venue's stream: where it is, what to send on connecting, how to keep it alive."""

    venue: str
    """The folder and exchange id: ``binance_um``, ``bybit`` or ``okx``."""
    url: str
    classify: Callable[[str], Frame]
    subscribe: tuple[str, ...] = ()
    """Text frames sent right after connecting, on every connection."""
    acks: int = 0
    """Acknowledgements to wait for before the connection counts as recording."""
    ping: str | None = None
    """The text frame the venue wants as a heartbeat, None when it pings the client itself."""
    ping_seconds: float = 20.0
    stall_seconds: float = STALL_SECONDS


def binance_stream(url: str | None = None, *, stall_seconds: float = STALL_SECONDS) -> VenueStream:
    """Binance USDⓈ-M's all-market force orders: the URL is the subscription; Binance sends at
    most one order per symbol per second (a lower bound of what was liquidated)."""
    return VenueStream(
        "binance_um",
        url or DEFAULT_WS_URLS["binance_um"],
        classify_binance,
        stall_seconds=stall_seconds,
    )


def bybit_stream(
    symbols: Sequence[str],
    url: str | None = None,
    *,
    ping_seconds: float = BYBIT_PING_SECONDS,
    stall_seconds: float = STALL_SECONDS,
) -> VenueStream:
    """Bybit linear ``allLiquidation.<symbol>`` topics (every liquidation, pushed every 500 ms).

    Bybit has no all-market topic: the symbols must be listed, ten per subscribe request.
    """
    if not symbols:
        raise ValueError("Bybit's allLiquidation needs at least one symbol")
    topics = [f"allLiquidation.{symbol}" for symbol in dict.fromkeys(symbols)]
    requests = tuple(
        json.dumps(
            {"op": "subscribe", "args": topics[i : i + BYBIT_TOPICS_PER_REQUEST]},
            separators=(",", ":"),
        )
        for i in range(0, len(topics), BYBIT_TOPICS_PER_REQUEST)
    )
    return VenueStream(
        "bybit",
        url or DEFAULT_WS_URLS["bybit"],
        classify_bybit,
        subscribe=requests,
        acks=len(requests),
        ping='{"op":"ping"}',
        ping_seconds=ping_seconds,
        stall_seconds=stall_seconds,
    )


def okx_stream(
    url: str | None = None,
    *,
    ping_seconds: float = OKX_PING_SECONDS,
    stall_seconds: float = STALL_SECONDS,
) -> VenueStream:
    """OKX's ``liquidation-orders`` channel for every USDT/USD swap (``instType`` SWAP)."""
    request = '{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}'
    return VenueStream(
        "okx",
        url or DEFAULT_WS_URLS["okx"],
        classify_okx,
        subscribe=(request,),
        acks=1,
        ping="ping",
        ping_seconds=ping_seconds,
        stall_seconds=stall_seconds,
    )


def venue_streams(
    venues: Sequence[str],
    bybit_symbols: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[VenueStream]:
    """The streams of ``venues`` at the URLs ``TREADMILL_<VENUE>_WS_URL`` names, else public."""
    env = os.environ if environ is None else environ
    unknown = [venue for venue in venues if venue not in VENUES]
    if unknown:
        raise ValueError(f"unknown venue(s) {unknown}; known: {', '.join(VENUES)}")
    streams = []
    for venue in dict.fromkeys(venues):
        url = env.get(WS_URL_ENV[venue]) or DEFAULT_WS_URLS[venue]
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"{WS_URL_ENV[venue]} {url!r} must start with ws:// or wss://")
        if venue == "binance_um":
            streams.append(binance_stream(url))
        elif venue == "bybit":
            streams.append(bybit_stream(bybit_symbols, url))
        else:
            streams.append(okx_stream(url))
    return streams
