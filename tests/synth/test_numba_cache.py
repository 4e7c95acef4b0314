"""Cached kernels made from other versions of the files they inline are dropped."""

from __future__ import annotations

import os
from pathlib import Path

from blurgen.synth import _numba_cache
from blurgen.synth._numba_cache import STAMP, drop_stale

MODULES = ("lib", "kernels")


def tree(tmp_path: Path) -> Path:
    (tmp_path / "lib.py").write_text("K = 1\n")
    (tmp_path / "kernels.py").write_text("def f(): pass\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    for name in ("lib.f-1.py311.nbi", "lib.f-1.py311.1.nbc", "kernels.g-3.py311.nbi", "other.h-1.py311.nbi",
                 "kernels.cpython-311.pyc"):
        (cache / name).write_bytes(b"x")
    return cache


def test_a_change_to_any_of_the_files_drops_every_module_s_kernels(tmp_path):
    cache = tree(tmp_path)
    assert drop_stale(tmp_path, MODULES)  # no stamp: where the kernels came from is unknown
    assert sorted(p.name for p in cache.iterdir()) == sorted([STAMP, "other.h-1.py311.nbi", "kernels.cpython-311.pyc"])
    (cache / "kernels.g-3.py311.nbi").write_bytes(b"compiled from these files")
    assert not drop_stale(tmp_path, MODULES)  # unchanged files: the cache stays
    assert (cache / "kernels.g-3.py311.nbi").exists()
    (tmp_path / "lib.py").write_text("K = 2\n")  # only the inlined file changes
    assert drop_stale(tmp_path, MODULES)
    assert not (cache / "kernels.g-3.py311.nbi").exists()
    assert (cache / STAMP).read_text() == _numba_cache.sources_digest([tmp_path / "lib.py", tmp_path / "kernels.py"])


def test_a_tree_without_a_cache_gets_its_stamp_and_a_missing_file_is_left_alone(tmp_path):
    (tmp_path / "lib.py").write_text("K = 1\n")
    (tmp_path / "kernels.py").write_text("def f(): pass\n")
    assert not drop_stale(tmp_path, MODULES)
    assert (tmp_path / "__pycache__" / STAMP).is_file()
    assert not drop_stale(tmp_path, ("lib", "missing"))


def test_the_kernel_modules_are_stamped_on_import():
    import blurgen.synth._compose_numba as C

    folder = Path(C.__file__).parent
    digest = _numba_cache.sources_digest([folder / f"{m}.py" for m in ("_splat", "_compose_numba", "_splat_numba")])
    stamp = folder / "__pycache__" / STAMP
    if os.access(folder / "__pycache__", os.W_OK):  # read-only installs keep no stamp
        assert stamp.read_text() == digest
