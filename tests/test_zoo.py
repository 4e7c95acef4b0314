import datetime
import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from blurgen import zoo
from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError

from blurgen.resources import resource

REGISTRY = Path(str(resource("model_zoo", "registry.toml")))


@pytest.fixture
def zroot(tmp_path, monkeypatch):
    root = tmp_path / "zoo"
    root.mkdir()
    shutil.copy(REGISTRY, root / "registry.toml")
    monkeypatch.setenv("BLURGEN_ZOO", str(root))
    return root


def test_committed_registry_lists_the_paper_checkpoints():
    reg = zoo.load_registry(REGISTRY.parent)
    assert {"pwcnet-things", "flownet2-things", "superslomo-adobe240"} <= set(reg)
    for e in reg.values():
        assert e.source and e.licence and e.kind in zoo.KINDS
        # ptlflow names carry the first hex digits of the sha256 (torch.hub convention)
        if e.kind == "ptlflow":
            assert e.file.rsplit("-", 1)[1].startswith(e.sha256_prefix)


def test_list_shows_missing_and_find_says_how_to_get_it(zroot):
    res = CliRunner().invoke(cli, ["zoo", "list"])
    assert res.exit_code == 0, res.output
    assert "pwcnet-things" in res.output and "missing" in res.output
    with pytest.raises(InputError, match="blurgen zoo add FILE --name pwcnet-things"):
        zoo.find("pwcnet-things")
    with pytest.raises(ConfigError, match="no checkpoint named"):
        zoo.find("nope")


def test_add_registry_name_checks_the_digest(zroot, tmp_path):
    f = tmp_path / "pwcdcnet-things-cc223701.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, f)
    assert not hashlib.sha256(f.read_bytes()).hexdigest().startswith("cc223701")
    with pytest.raises(InputError, match="does not match the registry entry"):
        zoo.add(f, "pwcnet-things")
    assert not (zroot / "weights" / "pwcdcnet-things-cc223701.ckpt").exists()


def _prefix_entry(zroot, tmp_path, n: int):
    """A checkpoint file and a registry entry ``m`` that knows only its sha256 prefix;
    returns (file, full sha256)."""
    f = tmp_path / "w.ckpt"
    torch.save({"state_dict": {"w": torch.arange(float(n))}}, f)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    (zroot / "registry.toml").write_text(
        '[[checkpoint]]\nname = "m"\nkind = "ptlflow"\nfile = "m.ckpt"\n'
        f'sha256_prefix = "{digest[:8]}"\nsource = "here"\nlicence = "x"\n')
    return f, digest


def test_add_matching_registry_file_is_found(zroot, tmp_path):
    f, digest = _prefix_entry(zroot, tmp_path, 4)
    e, dest = zoo.add(f, "m")
    assert zoo.find("m") == dest and dest.read_bytes() == f.read_bytes()
    data = bytearray(dest.read_bytes())
    data[-1] ^= 0xFF  # alter one byte
    dest.write_bytes(bytes(data))
    with pytest.raises(InputError, match="does not start with"):
        zoo.find("m")


def test_add_new_name_registers_locally(zroot, tmp_path):
    f = tmp_path / "run.pt"
    torch.save({"model": {"w": torch.ones(2)}}, f)
    res = CliRunner().invoke(cli, ["zoo", "add", str(f), "--name", "my-b2f", "--kind", "b2fnet"])
    assert res.exit_code == 0, res.output
    assert zoo.find("my-b2f").read_bytes() == f.read_bytes()
    assert zoo.load_registry()["my-b2f"].local
    res = CliRunner().invoke(cli, ["zoo", "list"])
    assert "my-b2f" in res.output and "present" in res.output


def test_add_refuses_unsafe_pickles(zroot, tmp_path):
    f = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.ones(2)}, "when": datetime.datetime(2020, 1, 1)}, f)
    with pytest.raises(InputError, match="weights_only=True"):
        zoo.add(f, "evil", kind="b2fnet")
    assert not (zroot / "weights" / "evil.pt").exists()


def test_registry_file_names_cannot_escape(zroot):
    (zroot / "registry.toml").write_text(
        '[[checkpoint]]\nname = "x"\nkind = "other"\nfile = "../../etc/passwd"\n')
    with pytest.raises(InputError, match="plain file name"):
        zoo.load_registry()


def test_add_to_a_prefix_only_entry_pins_the_full_digest(zroot, tmp_path):
    f, digest = _prefix_entry(zroot, tmp_path, 5)
    res = CliRunner().invoke(cli, ["zoo", "add", str(f), "--name", "m"])
    assert res.exit_code == 0, res.output
    assert f"sha256 {digest} pinned" in res.output and "trust on first use" in res.output
    e = zoo.load_registry()["m"]
    assert e.pinned and e.sha256 == digest and not e.local
    assert f"sha256: {digest} (pinned on first use" in CliRunner().invoke(cli, ["zoo", "show", "m"]).output
