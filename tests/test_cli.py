"""The command line: what its help says, what its errors say, and that help stays light."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from blurgen import __version__
from blurgen import cli as cli_mod
from blurgen.cli import COMMANDS, cli
from blurgen.parallel import BACKENDS

SHARED = ("--workers", "--backend", "--scheduler", "--resume", "--quiet")
DATASET_COMMANDS = ("synth-monkaa", "real")


def leaf_commands() -> dict[str, click.Command]:
    """Every command under ``blurgen`` by its words (``zoo add``)."""
    ctx = click.Context(cli)
    found = {}
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            found.update({f"{name} {sub}": cmd.get_command(ctx, sub) for sub in cmd.list_commands(ctx)})
        else:
            found[name] = cmd
    return found


def help_of(*words: str) -> str:
    res = CliRunner().invoke(cli, [*words, "--help"], prog_name="blurgen")
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())  # unwrapped


def fail(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Run ``blurgen ARGV`` as the console script does; (exit status, stderr lines)."""
    with pytest.raises(SystemExit) as e:
        cli_mod.main(argv)
    captured = capsys.readouterr()
    return e.value.code, captured.err.splitlines()


# -- help ---------------------------------------------------------------------------------
def test_help_lists_every_command_with_its_line():
    text = help_of()
    assert text.startswith("Usage: blurgen [OPTIONS] COMMAND [ARGS]...")
    for name, (_, _, line) in COMMANDS.items():
        assert f"{name} {line}" in text, name


def test_every_command_help_shows_its_usage_and_names_every_option():
    for words, cmd in leaf_commands().items():
        text = help_of(*words.split())
        assert text.startswith(f"Usage: blurgen {words} "), words
        for param in cmd.params:
            if isinstance(param, click.Option):
                for flag in param.opts + param.secondary_opts:
                    assert flag in text, (words, flag)
            else:
                assert param.human_readable_name in text, (words, param.name)


def test_dataset_commands_and_rerun_declare_the_shared_options_once():
    commands = leaf_commands()
    options = {w: {o.opts[0]: o for o in commands[w].params if isinstance(o, click.Option)}
               for w in (*DATASET_COMMANDS, "rerun")}
    for flag in SHARED:
        first = options["rerun"][flag]
        for words in DATASET_COMMANDS:
            o = options[words][flag]
            assert (o.help, o.default, type(o.type), o.is_flag) == (first.help, first.default, type(first.type),
                                                                      first.is_flag), (words, flag)
    # one list of backends: the pipeline's
    for words in (*DATASET_COMMANDS, "rerun"):
        assert tuple(options[words]["--backend"].type.choices) == BACKENDS
        assert f"--backend [{'|'.join(BACKENDS)}]" in help_of(*words.split())


def test_unseeded_jobs_say_so_in_their_seed_help():
    for words in DATASET_COMMANDS:
        assert "--seed INTEGER Has no effect" in help_of(words) and "draws nothing at random" in help_of(words)


def test_real_sources_are_the_jobs():
    from blurgen.commands.real import SOURCES
    from blurgen.jobs import real

    assert SOURCES == real.SOURCES
    assert f"--source [{'|'.join(SOURCES)}]" in help_of("real")


def test_version_names_the_version():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"blurgen, version {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["real", "--help"], ["synth-monkaa", "--help"],
                                  ["rerun", "--help"], ["demo", "--help"]], ids=" ".join)
def test_help_imports_no_heavy_module(argv):
    code = (
        "import sys\n"
        "from blurgen.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'ptlflow', 'cv2', 'h5py', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "blurgen" in res.stdout  # the help or the version was printed


# -- errors -------------------------------------------------------------------------------
def test_a_file_no_decoder_reads_is_one_line_on_stderr(tmp_path):
    # OpenCV prints its own log line as imdecode fails; the user gets blurgen's line alone
    (tmp_path / "bad.png").write_bytes(b"GIF89a")
    res = subprocess.run([sys.executable, "-m", "blurgen", "flow", "bad.png", "bad.png", "--out", "x.flo"],
                         capture_output=True, text=True, check=False, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"})
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == ["Error: bad.png: cannot decode image (corrupt or unsupported format)"]


def test_usage_errors_name_the_option(tmp_path, capsys):
    code, err = fail(["real", "--source", "gopro", "--root", str(tmp_path)], capsys)
    assert code == 2 and err[-1] == "Error: Missing option '--out'."
    assert "Try 'blurgen real --help' for help." in err
    code, err = fail(["real", "--source", "bogus", "--root", str(tmp_path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err[-1] == ("Error: Invalid value for '--source': 'bogus' is not one of "
                                     "'gopro', 'nfs', 'video', 'frames'.")
    code, err = fail(["rerun", str(tmp_path), "--out", str(tmp_path / "o"), "--backend", "mpi"], capsys)
    assert code == 2 and err[-1].startswith("Error: Invalid value for '--backend': 'mpi' is not one of 'loky'")
    code, err = fail(["bogus"], capsys)
    assert code == 2 and err[-1] == "Error: No such command 'bogus'."


@pytest.mark.parametrize("argv, line", [
    (["synth-monkaa", "--root", "{tmp}", "--out", "{tmp}/o", "--seed", "3"],
     ("Error: --seed 3: synth-monkaa draws nothing at random (the pair split's seed is --split-seed), "
      "so --seed has no effect; leave it out")),
    (["synth-monkaa", "--root", "{tmp}", "--out", "{tmp}/o", "--slomo-batch", "2"],
     ("Error: --slomo-batch has no effect here: it belongs to --interpolator superslomo (this run interpolates "
      "with flow-guided)")),
    (["real", "--source", "gopro", "--root", "{tmp}", "--out", "{tmp}/o", "--recipe", "nope"],
     "Error: unknown recipe 'nope'; known: gopro, monkaa, nfs, video (or give a .toml path)"),
    (["real", "--source", "gopro", "--root", "{tmp}", "--out", "{tmp}/o", "--flow-model", "dis", "--device", "cpu"],
     "Error: --device has no effect here: it applies to learned flow models; dis runs on the CPU"),
    (["real", "--source", "gopro", "--root", "{tmp}", "--out", "{tmp}/o", "--flow-model", "none"],
     ("Error: --flow-model none makes no flow labels, and shards need them (use --flow-model dis for fast "
      "offline labels; benchmarks/real.py times blur-only making)")),
    (["flow", "{tmp}/a.png", "{tmp}/a.png", "--out", "{tmp}/o/f.png"],
     "Error: --out {tmp}/o/f.png: the flow file must end in .flo (the PNG goes beside it)"),
    (["verify", "{tmp}"], "Error: {tmp}/manifest.json: manifest not found"),
    (["zoo", "show", "nope"], "Error: no checkpoint named 'nope'; known: "),
])
def test_user_errors_are_one_line_and_exit_1_before_anything_is_written(argv, line, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"not read: refused before")
    code, err = fail([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(line.replace("{tmp}", str(tmp_path))), err[0]
    assert not (tmp_path / "o").exists()


def test_exit_code_set_by_a_command_reaches_the_shell():
    @click.command("fails-quietly")
    @click.pass_context
    def fails(ctx):
        ctx.exit(3)

    cli_mod.cli.add_command(fails)
    try:
        with pytest.raises(SystemExit) as e:
            cli_mod.main(["fails-quietly"])
        assert e.value.code == 3
    finally:
        cli_mod.cli.commands.pop("fails-quietly", None)
