"""The `flowsynth` command. Each subcommand lives in bridge/commands/<name>.py and offers
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bridge.cluster import WorkerError

# name -> one-line help; the module bridge.commands.<name> implements it.
COMMANDS: dict[str, str] = {
    "synths": "list the built-in synths, Dexed when found, and their parameters",
    "listen": "render one preset to a WAV file to hear it",
    "render": "render a dataset of (preset, spectrogram) pairs",
    "train": "train a model on a rendered dataset",
    "ood-set": "make out-of-domain sounds (other synth, noises, voices) for eval --ood",
    "eval": "evaluate a model on a held-out split (and out-of-domain audio)",
    "match": "find the preset that sounds closest to a sound file",
    "plot": "draw what a model's macros and morphs do",
    "export": "write a TorchScript bundle for LibTorch hosts, nn~ and the server",
    "serve": "host models over OSC for Live, Max and Pure Data",
    "send": "send one OSC message to a running server and print its replies",
    "monitor": "print every reply a running server sends",
}


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowsynth", description=__doc__.split("\n")[0])
    from bridge import __version__

    parser.add_argument("--version", action="version", version=f"flowsynth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"bridge.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _silence_stdout() -> None:
    # Whatever is still buffered for the closed pipe would fail again when Python flushes at
    # exit; point stdout at /dev/null so that flush succeeds quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (e.g. captured in tests): nothing will flush to a pipe


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
        code = int(args._run(args) or 0)
        # Flush here so that a reader that went away (`flowsynth synths | head`) is noticed
        # inside this try rather than at interpreter exit, where Python prints a traceback.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (
        UserError, ValueError, FileNotFoundError, FileExistsError, PermissionError, WorkerError
    ) as e:
        # Every input problem surfaces as one line naming the problem and the fix.
        print(f"flowsynth {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
