"""`flowsynth serve`: host models and answer Max for Live, Max, Pure Data and OSC controllers
over OSC (docs/protocol.md)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

# One thread per model call: the server's calls are single points, where torch's thread pool
# costs more than it gains and competes with the control path. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; "
                        "0.0.0.0 lets other machines control it)")
    p.add_argument("--port", type=int, default=9123, help="UDP port to listen on (default 9123; "
                                                          "0 picks a free one)")
    p.add_argument("--reply-port", type=int, default=9124,
                   help="where replies go for clients that never sent /flowsynth/hello "
                        "(default 9124)")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="model for slot 1 (default: the shipped model)")
    p.add_argument("--plugin", metavar="PATH", default=None,
                   help="the Dexed.vst3 that renders for the dexed model (default: "
                        "$FLOWSYNTH_DEXED, then the standard VST3 folders); without it the "
                        "model still serves dials, presets and morphs")
    p.add_argument("--models-dir", action="append", default=[], metavar="DIR",
                   help="folder of models that /flowsynth/S/load may open (repeatable); model "
                        "paths outside these folders are refused")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="folder whose audio files sketch and render may read and write "
                        "(repeatable). Nothing is allowed by default, not even the temp "
                        "folder: point this at the folder your Sketch device records into")
    p.add_argument("--sketch-dir", metavar="DIR",
                   help="folder offered to the Sketch device (/flowsynth/sketch_dir) and "
                        "allowed for sketch and render; created for this user only if missing "
                        "(default: <system temp>/flowsynth-sketches)")
    p.add_argument("--no-sketch-dir", action="store_true",
                   help="offer no sketch folder: only --allow-dir folders may be used")
    p.add_argument("--output-dir", metavar="DIR",
                   help="where render writes when given no path (default "
                        "~/.cache/flowsynth/renders); always allowed")
    p.add_argument("--output-cap-mb", type=float, default=256, metavar="MB",
                   help="renders without a path are kept under this size in the output "
                        "folder; the oldest of the server's renders go first (default 256)")
    p.add_argument("--match-budget", type=float, default=2.0, metavar="S",
                   help="seconds a sketch's search refines its answer after the first one "
                        "(default 2; 0 answers with the first candidate alone)")
    p.add_argument("--queue-size", type=int, default=8,
                   help="audio jobs (sketch, render, load) that may wait; more get 'busy' "
                        "(default 8)")
    p.add_argument("--eager", action="store_true",
                   help="host training checkpoints (.pt) through the eager PyTorch model rather "
                        "than the TorchScript twin compiled when they load (slower; for "
                        "comparison and debugging)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"], help="default info")
    p.add_argument("--model-factory", metavar="MODULE:FUNCTION",
                   help="for tests and custom hosts: FUNCTION(name) returns the HostedModel "
                        "to serve instead of the project's loader. MODULE is a module name or "
                        "a .py file; if it defines list_models() and get_synth(name), /models "
                        "and render use them")


def run(args: argparse.Namespace) -> int:
    from bridge.server import OSCServer, ServerConfig

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    # A worker thread running Python code holds the GIL for up to this long before the
    # serve thread may answer a dial; the default 5 ms would be the control path's floor.
    sys.setswitchinterval(0.0005)

    if args.plugin is not None:
        from bridge.synth.dexed import use_plugin

        use_plugin(args.plugin)
    for name, value in (("--port", args.port), ("--reply-port", args.reply_port)):
        if not 0 <= value <= 65535 or (name == "--reply-port" and value == 0):
            raise ValueError(f"{name} {value} is not a UDP port; use 1..65535")
    if args.port == args.reply_port:
        raise ValueError(f"--reply-port {args.reply_port} equals --port: replies would come "
                         "back to the server itself; pick another reply port (default 9124) "
                         "or listening port")
    if args.output_cap_mb <= 0:
        raise ValueError("--output-cap-mb must be positive (megabytes of renders to keep)")
    if not 0 <= args.match_budget <= 60:
        raise ValueError(f"--match-budget {args.match_budget}: give seconds between 0 and 60")
    if args.queue_size < 1:
        raise ValueError("--queue-size must be at least 1")
    models_dirs = [_folder(d, "--models-dir") for d in args.models_dir]
    allow_dirs = [_folder(d, "--allow-dir") for d in args.allow_dir]
    output_dir = os.path.realpath(os.path.expanduser(
        args.output_dir or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"),
                                        "flowsynth", "renders")))
    os.makedirs(output_dir, exist_ok=True)
    sketch_dir = None if args.no_sketch_dir else private_folder(
        args.sketch_dir or os.path.join(tempfile.gettempdir(), "flowsynth-sketches"))

    loader, list_models, get_synth, default = _model_source(args.model_factory, models_dirs)
    # Model paths sent over OSC must lie in a models folder; the shipped folder is one.
    path_dirs = models_dirs + [d for d in _shipped_dirs() if d not in models_dirs]
    config = ServerConfig(host=args.host, port=args.port, reply_port=args.reply_port,
                          allow_dirs=allow_dirs, models_dirs=path_dirs, output_dir=output_dir,
                          sketch_dir=sketch_dir,
                          output_cap_bytes=int(args.output_cap_mb * 1024 * 1024),
                          queue_size=args.queue_size, script_checkpoints=not args.eager,
                          match_budget=args.match_budget,
                          freeze_heap=True)
    server = OSCServer(loader, list_models, config, get_synth=get_synth)

    model = None
    if args.model:
        # A file named on the command line may lie in the working folder; make it a path.
        given = os.path.abspath(args.model) if os.path.exists(args.model) else args.model
        try:
            model = server.load_slot(1, given)
        except Exception as e:  # a bad --model stops start-up with its reason
            raise ValueError(f"cannot load --model {args.model}: {e}") from None
    elif default:
        try:
            model = server.load_slot(1, default)
        except Exception as e:  # no shipped model yet: serve anyway, slots empty
            logging.getLogger("flowsynth.server").warning(
                "the default model %s did not load (%s); slot 1 starts empty", default, e)
    torch = sys.modules.get("torch")  # pinned only if a model brought it in: importing is slow
    if torch is not None:
        torch.set_num_threads(1)

    try:
        server.start()
    except OSError as e:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}; "
                         "is another server running? pick one with --port") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _banner(server, model, allow_dirs + ([sketch_dir] if sketch_dir else []), models_dirs,
            output_dir)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    print("flowsynth serve: stopped", flush=True)
    return 0


def private_folder(path: str) -> str:
    """The sketch folder: created readable and writable by this user only. The system temp
    folder is shared, so an existing one must be a real folder (not a link) that this user
    owns; a looser mode left by an earlier version is tightened to 0700."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"sketch folder {path} is not a folder (a link or a file); remove it "
                         "or choose another with --sketch-dir")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ValueError(f"sketch folder {path} belongs to another user; remove it or choose "
                         "another with --sketch-dir")
    if os.name == "posix" and st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return os.path.realpath(path)


def _folder(path: str, option: str) -> str:
    real = os.path.realpath(os.path.expanduser(path))
    if not os.path.isdir(real):
        raise FileNotFoundError(f"{option} {path}: no such folder")
    return real


def _banner(server, model, allow_dirs: list[str], models_dirs: list[str], output_dir: str) -> None:
    from bridge import __version__

    host, port = server.address
    cfg = server.config
    out = [f"flowsynth serve {__version__}: listening for OSC on udp {host}:{port}; "
           f"replies go to port {cfg.reply_port} unless a client says hello"]
    if host not in LOOPBACK:
        out.append(f"WARNING: listening on {host}, not loopback: any machine that can reach "
                   "this one can control the server and read files in the allowed folders. "
                   "Use --host 127.0.0.1 unless you mean it.")
    if model is not None:
        out.append(f"slot 1: {model.name} (synth {model.synth_name}, {len(model.param_names)} "
                   f"params, latent {model.latent_dim}, {len(model.macro_names)} macros)")
        out.append("slots 2-16: empty (send /flowsynth/S/load <model>)")
    else:
        out.append("slots 1-16: empty (no model given and no shipped model found; send "
                   "/flowsynth/S/load <model>)")
    out.append("models folders: " + (", ".join(models_dirs) or "none (--models-dir)"))
    out.append("audio folders sketch/render may use: " + ", ".join(allow_dirs + [output_dir]))
    out.append(f"from Max: [udpsend 127.0.0.1 {port}] and [udpreceive {cfg.reply_port}], then "
               f"send /flowsynth/hello {cfg.reply_port} and /flowsynth/1/info")
    out.append("Ctrl-C stops the server")
    print("\n".join(out), flush=True)


def _model_source(factory: str | None, models_dirs: list[str]):
    """(loader, list_models, get_synth, default model name) from --model-factory or the
    project's loader in bridge.models."""
    if factory:
        module_name, sep, func_name = factory.rpartition(":")
        if not sep or not module_name or not func_name:
            raise ValueError(f"--model-factory {factory!r} must look like module:function")
        module = _import(module_name)
        loader = getattr(module, func_name, None)
        if not callable(loader):
            raise ValueError(f"--model-factory: {module_name} has no function {func_name}")
        lister = getattr(module, "list_models", None)
        names: Callable[[], list[str]] = lister if callable(lister) else (lambda: [])
        first = names()
        return loader, names, getattr(module, "get_synth", None), (first[0] if first else None)

    from bridge.hosting import registry

    def loader(name: str):
        # A bare name is looked up in the models folders only, never in the working folder
        # (`/load evil` must not open ./evil.pt); paths reach here absolute (checked to lie
        # in a models folder) or from --model.
        if os.path.isabs(name) or "/" in name or os.sep in name:
            return registry.load_hosted(name, models_dirs=models_dirs)
        path = registry.resolve_model_name(name, models_dirs)
        return registry.load_hosted(str(path), models_dirs=models_dirs)

    def list_models() -> list[str]:
        return registry.list_models(models_dirs)

    return loader, list_models, None, registry.DEFAULT_MODEL


def _shipped_dirs() -> list[str]:
    try:
        from bridge.hosting.registry import SHIPPED_DIR
    except ImportError:
        return []
    return [os.path.realpath(SHIPPED_DIR)] if os.path.isdir(SHIPPED_DIR) else []


def _import(name: str):
    if name.endswith(".py"):
        path = os.path.realpath(name)
        spec = importlib.util.spec_from_file_location(Path(path).stem, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"--model-factory: cannot load {name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(name)


def standalone(prog: str, doc: str, add: Callable, run_fn: Callable,
               argv: list[str] | None = None) -> int:
    """Run a command without the `flowsynth` dispatcher (python -m bridge.commands.NAME)."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    add(p)
    args = p.parse_args(argv)
    try:
        return int(run_fn(args) or 0)
    except (ValueError, FileNotFoundError, LookupError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(standalone("flowsynth serve", __doc__, add_arguments, run))
