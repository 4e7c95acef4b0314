"""Guard against numbers in the docs that no script prints.

Every table of measurements in docs/*.md (a markdown table with numbers in its cells, or a
fenced block of printed output with rows of numbers) must name, next to it, a script in
benchmarks/ or a test that prints it, and every benchmarks/ or tests/ path the docs and the
README mention must exist. This does not check the numbers themselves: rerun the named
script for that.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
# a cell that is a measured value: a number with an optional unit, bold allowed
NUMBER = re.compile(r"^\**[-+]?\d[\d,]*(\.\d+)?\s*(ms|s|x|%|px|dB|MB|MiB)?\**$")
SCRIPT = re.compile(r"\b(benchmarks/[\w.-]+\.py|tests/[\w/.-]+\.py|tests/\w+/)")
BEFORE, AFTER = 14, 8  # lines around a table where its script must be named


def blocks(lines: list[str]):
    """(first, last, rows) of each pipe table outside code fences and each fenced block;
    rows are lists of cells (fenced lines are split at pipes and white space)."""
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            yield i, j, [re.split(r"[|\s]+", ln.strip()) for ln in lines[i + 1:j]]
            i = j + 1
        elif lines[i].lstrip().startswith("|"):
            j = i
            while j + 1 < len(lines) and lines[j + 1].lstrip().startswith("|"):
                j += 1
            yield i, j, [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines[i:j + 1]]
            i = j + 1
        else:
            i += 1


def measurement_tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line indices of the tables of measurements: pipe tables with a number
    in a cell of their own, fenced blocks with a line of three or more numbers."""
    found = []
    for first, last, rows in blocks(lines):
        need = 3 if lines[first].lstrip().startswith("```") else 1
        if any(sum(bool(NUMBER.match(c)) for c in row) >= need for row in rows):
            found.append((first, last))
    return found


def named_paths(text: str) -> set[str]:
    return {m.group(1) for m in SCRIPT.finditer(text)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_measurement_table_names_its_script(doc):
    lines = doc.read_text(encoding="utf-8").splitlines()
    for first, last in measurement_tables(lines):
        around = "\n".join(lines[max(0, first - BEFORE):last + 1 + AFTER])
        found = [p for p in named_paths(around) if (ROOT / p).exists()]
        assert found, (f"{doc.name}, line {first + 1}: a table of measurements with no benchmarks/*.py "
                       f"or test named within {BEFORE} lines above or {AFTER} below it")


@pytest.mark.parametrize("doc", DOCS + [ROOT / "README.md"], ids=lambda p: p.name)
def test_every_named_script_exists(doc):
    missing = sorted(p for p in named_paths(doc.read_text(encoding="utf-8")) if not (ROOT / p).exists())
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_the_table_finder_finds_tables():
    text = ("intro\n\n| a | b | c |\n|---|---|---|\n| x | 1.5 | 20 ms |\n\n| f | does |\n|---|---|\n| g | h |\n"
            "\n```\nblurgen train --max-steps 150\n```\n```\nsize  wall  cpu\n320x180  14.8  6.2  3923\n```\n")
    assert measurement_tables(text.splitlines()) == [(2, 4), (13, 16)]


def test_the_worked_example_of_a_new_source_works(tmp_path, monkeypatch):
    """docs/internals.md shows how to add a real-blur source; its code must run as written."""
    import importlib.util

    import numpy as np

    from blurgen.jobs import real, real_config
    from real_helpers import write_frames

    text = (ROOT / "docs" / "internals.md").read_text()
    code = re.search(r"```python\n# blurgen/sources/adobe240.py\n(.*?)```", text, re.S).group(1)
    (tmp_path / "adobe240.py").write_text(code)
    spec = importlib.util.spec_from_file_location("adobe240", tmp_path / "adobe240.py")
    adobe240 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(adobe240)
    root = tmp_path / "Adobe240"
    frames = [np.full((24, 32, 3), 10 * i, np.uint8) for i in range(14)]
    for clip in ("clipA", "clipB"):
        write_frames(root / clip / "frames", range(1, 15), frames, digits=5)
    (root / "notes").mkdir()
    # the three lines the doc asks for, made for this test only
    monkeypatch.setitem(real.DATASETS, "adobe240", adobe240)
    monkeypatch.setattr(real_config, "SOURCES", (*real_config.SOURCES, "adobe240"))
    job = real.build({"source": "adobe240", "flow_model": "dis", "splits": {"clipB": "test"}}, root)
    keys = {t.key: t.split for t in job.tasks()}
    assert keys == {"adobe240/clipA/00001": "train", "adobe240/clipA/00008": "train",
                    "adobe240/clipB/00001": "test", "adobe240/clipB/00008": "test"}
    assert job.make(job.tasks()[0]).meta["fps"] == 240.0
