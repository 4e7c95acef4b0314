"""The ``blurgen`` command line: a click group whose commands live in ``blurgen.commands``.

Commands are imported only when they run (or when their help is shown), so that
``blurgen --help`` answers without importing numpy, torch or ptlflow. Each command module
imports only click at the top and does its heavy imports inside the function body.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from blurgen import __version__
from blurgen.errors import BlurgenError

# name -> (module under blurgen.commands, attribute, one-line help shown by `blurgen --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "sample": ("sample", "sample", "Write the bundled procedural sample in the real dataset layouts."),
    "synth-monkaa": ("synth_monkaa", "synth_monkaa", "Monkaa synthetic blur (interpolate + average) to HDF5 shards."),
    "real": ("real", "real", "Real blur from 240 fps frames or videos with pseudo-GT flow, to shards."),
    "flow": ("flow", "flow", "Estimate one flow field between two images; writes .flo and a colour PNG."),
    "train": ("train", "train", "Train B2F-net on HDF5 shards."),
    "eval": ("train", "eval_cmd", "Evaluate a B2F-net checkpoint on shards (EPE table)."),
    "predict": ("train", "predict", "Flow from single blurred images with a B2F-net checkpoint."),
    "rerun": ("data", "rerun", "Rebuild a dataset from its manifest and the input root."),
    "verify": ("data", "verify", "Check shards against their manifest; non-zero exit on any mismatch."),
    "preview": ("inspect", "preview", "Contact sheet of random samples: blur, flow colour, end frames."),
    "stats": ("inspect", "stats", "Counts, histograms of s, n and flow magnitude, skipped reasons."),
    "calibrate": ("calibrate", "calibrate", "Fit a label or blur-fidelity quality calibration on procedural samples."),
    "zoo": ("zoo", "zoo", "List, register and (on request) download checkpoints in the model zoo."),
    "demo": ("demo", "demo", "The whole chain on the bundled sample, offline, on the CPU."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)  # commands added in Python (plugins)
        module, attr, _ = COMMANDS[name]
        mod = importlib.import_module(f"blurgen.commands.{module}")
        return getattr(mod, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static one-line help so `blurgen --help` imports no command module.
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blurgen")
def cli() -> None:
    """blurgen: datasets for learning optical flow from a single motion-blurred image.

    Typical use: `blurgen sample S`, `blurgen synth-monkaa --root S/monkaa --out O`,
    `blurgen real --source nfs --root S/nfs --out O2`, `blurgen train --shards O --out RUN`.
    """


def quiet_decoder_logs() -> None:
    """Bad input is reported as blurgen's one line naming the file; OpenCV would also print
    its own log line to stderr as a decoder fails. Off for the command line (and the
    worker processes it starts) unless the user set ``OPENCV_LOG_LEVEL``."""
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    os.environ["OPENCV_LOG_LEVEL"] = "SILENT"  # read when cv2 loads, here and in workers
    if "cv2" in sys.modules:
        cv2 = sys.modules["cv2"]
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: list[str] | None = None, command: click.Command | None = None) -> None:
    """Console entry point: user errors become one line on stderr and exit status 1.

    ``command``: run this click command instead of the ``blurgen`` group (the same handling).
    """
    command = command or cli
    quiet_decoder_logs()
    try:
        rv = command.main(args=argv, prog_name=command.name if command is not cli else "blurgen",
                          standalone_mode=False)
        # Without standalone mode click returns the code a command gave to ctx.exit(n).
        if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
            sys.exit(rv)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except BlurgenError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(getattr(e, "exit_code", 1))
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
