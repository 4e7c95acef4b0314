import subprocess
import sys

from click.testing import CliRunner

from blurgen.cli import COMMANDS, cli


def test_help_lists_every_command():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    for name in COMMANDS:
        assert name in res.output


def test_every_command_has_help():
    runner = CliRunner()
    for name in COMMANDS:
        res = runner.invoke(cli, [name, "--help"])
        assert res.exit_code == 0, (name, res.output)


def test_help_and_version_do_not_import_torch():
    code = (
        "import sys\n"
        "from blurgen.cli import main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'ptlflow', 'cv2', 'h5py', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_exit_code_set_by_a_command_reaches_the_shell():
    import click

    from blurgen import cli as cli_mod

    @click.command("fails-quietly")
    @click.pass_context
    def fails(ctx):
        ctx.exit(3)

    cli_mod.cli.add_command(fails)
    try:
        import pytest

        with pytest.raises(SystemExit) as e:
            cli_mod.main(["fails-quietly"])
        assert e.value.code == 3
    finally:
        cli_mod.cli.commands.pop("fails-quietly", None)
