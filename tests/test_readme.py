"""The README's examples stay true: every command and flag it shows exists."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from blurgen.cli import COMMANDS, cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _example_lines() -> list[list[str]]:
    text = README.read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            for part in re.split(r"&&|;", line.split("#")[0]):
                words = shlex.split(part.strip())
                # `.venv/bin/blurgen demo out` or `blurgen ...`
                if words and Path(words[0]).name == "blurgen":
                    lines.append(words[1:])
    return lines


def test_readme_has_examples_for_every_dataset_command():
    shown = {w[0] for w in _example_lines() if w}
    for name in ("sample", "synth-monkaa", "real", "train", "eval", "predict", "rerun", "verify", "preview",
                 "stats", "demo"):
        assert name in shown, f"README shows no `blurgen {name}` example"


@pytest.mark.parametrize("words", _example_lines(), ids=lambda w: " ".join(w[:3]))
def test_readme_example_flags_exist(words):
    assert words[0] in COMMANDS, f"README uses unknown command {words[0]!r}"
    args = words[:1]
    if words[0] == "zoo" and len(words) > 1:
        args = words[:2]
    res = CliRunner().invoke(cli, [*args, "--help"])
    assert res.exit_code == 0, res.output
    for w in words:
        if w.startswith("--"):
            flag = w.split("=")[0]
            assert flag in res.output, f"`blurgen {' '.join(args)}` has no {flag} (README example: {' '.join(words)})"
