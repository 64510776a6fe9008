"""`flowsynth send`: send one OSC message to a running server, and optionally print what it
answers; for checking a setup from a terminal."""

from __future__ import annotations

import argparse
import socket
import sys
import time

from pythonosc.osc_message import OscMessage

from bridge.wire import encode


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", help="OSC address, e.g. /flowsynth/1/macro")
    p.add_argument("args", nargs="*", help="arguments: each is sent as an int if it reads as "
                                           "one, else a float, else a string")
    add_connection_arguments(p)
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="say hello first, then print the replies that arrive within SECONDS")


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9123, help="server port (default 9123)")


def parse_arg(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def reply_socket(host: str) -> socket.socket:
    """A socket the server's replies can reach: loopback for a local server, else any."""
    local = host in ("127.0.0.1", "localhost", "::1")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(((host if local else ("::" if family == socket.AF_INET6 else "0.0.0.0")), 0))
    return sock


def format_message(data: bytes) -> str:
    try:
        m = OscMessage(data)
    except Exception as e:  # a stray packet on our port is shown, not fatal
        return f"<{len(data)} bytes that are not an OSC message: {e}>"
    parts = [m.address]
    for a in m.params:
        if isinstance(a, float):
            parts.append(f"{a:.6g}")
        elif isinstance(a, str):
            parts.append(a if a and " " not in a else repr(a))
        else:
            parts.append(str(a))
    return " ".join(parts)


def stamp() -> str:
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def run(args: argparse.Namespace) -> int:
    if not args.address.startswith("/"):
        raise ValueError(f"OSC addresses start with '/', got {args.address!r}")
    values = [parse_arg(a) for a in args.args]
    server = (args.host, args.port)
    sock = reply_socket(args.host)
    try:
        if args.wait > 0:
            # Replies come back to this socket: hello tells the server its port.
            sock.sendto(encode("/flowsynth/hello", [sock.getsockname()[1], "flowsynth-send"]),
                        server)
        sock.sendto(encode(args.address, values), server)
        if args.wait <= 0:
            return 0
        got, errors = 0, 0
        end = time.monotonic() + args.wait
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65536)
            except (TimeoutError, ConnectionRefusedError):
                continue
            got += 1
            line = format_message(data)
            errors += line.startswith("/flowsynth/error")
            print(line, flush=True)
        if not got:
            print(f"no reply within {args.wait:g} s: is `flowsynth serve` running on "
                  f"{args.host}:{args.port}?", file=sys.stderr)
            return 1
        return 1 if errors else 0
    finally:
        sock.close()


if __name__ == "__main__":
    import sys

    from bridge.commands.serve import standalone

    sys.exit(standalone("flowsynth send", __doc__, add_arguments, run))
