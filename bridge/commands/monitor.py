"""`flowsynth monitor`: say hello to a running server and print every reply it sends, with
timestamps, until Ctrl-C; for watching what a device or controller makes the server do."""

from __future__ import annotations

import argparse
import signal
import threading
import time

from bridge.commands.send import (
    add_connection_arguments,
    format_message,
    reply_socket,
    stamp,
)
from bridge.wire import encode

HELLO_EVERY_S = 10.0  # as the devices do


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("--slot", type=int, action="append", default=[], metavar="S",
                   help="also receive every reply about slot S, whoever caused it (repeatable)")
    p.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                   help="stop after SECONDS (default: run until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    for s in args.slot:
        if not 1 <= s <= 16:
            raise ValueError(f"--slot {s} is outside 1..16")
    server = (args.host, args.port)
    sock = reply_socket(args.host)
    port = sock.getsockname()[1]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    def hello() -> None:
        sock.sendto(encode("/flowsynth/hello", [port, "flowsynth-monitor"]), server)
        for s in args.slot:
            # /flowsynth/S/hello registers like hello and subscribes this client to slot S.
            sock.sendto(encode(f"/flowsynth/{s}/hello", [port, "flowsynth-monitor"]), server)

    try:
        hello()
        said = time.monotonic()
        print(f"{stamp()} listening on port {port} for replies from {args.host}:{args.port} "
              "(Ctrl-C stops)", flush=True)
        sock.settimeout(0.25)
        ends = threading.Timer(args.duration, stop.set) if args.duration > 0 else None
        if ends:
            ends.start()
        while not stop.is_set():
            if time.monotonic() - said >= HELLO_EVERY_S:
                hello()  # the server forgets a client silent for 30 s
                said = time.monotonic()
            try:
                data, _ = sock.recvfrom(65536)
            except (TimeoutError, ConnectionRefusedError):
                continue
            print(f"{stamp()} {format_message(data)}", flush=True)
        if ends:
            ends.cancel()
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    import sys

    from bridge.commands.serve import standalone

    sys.exit(standalone("flowsynth monitor", __doc__, add_arguments, run))
