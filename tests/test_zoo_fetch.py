"""`blurgen zoo fetch` against real HTTP servers that the tests start on 127.0.0.1.

Nothing here reaches another address: every URL is 127.0.0.1, the proxy variables are
cleared (or point at a second local server), and ``socket.create_connection`` refuses any
other host for the duration of each test.
"""

import hashlib
import random
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from blurgen import zoo
from blurgen.cli import cli
from blurgen.errors import InputError
from blurgen.flow import learned

DATA = random.Random(0).randbytes(300_000)  # the "checkpoint" the server holds
SHA = hashlib.sha256(DATA).hexdigest()
SMALL = random.Random(1).randbytes(4_000)  # the prefix-only entry's file
SMALL_SHA = hashlib.sha256(SMALL).hexdigest()
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files`` by URL path, with ``Range: bytes=N-`` support; logs each request.

    Server knobs: ``ignore_range`` (always 200 with the whole file), ``stall_after`` (send
    that many body bytes, then go silent until ``server.release`` is set).
    """

    def do_GET(self):  # noqa: N802 - http.server's naming
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        data = srv.files.get(urlsplit(self.path).path)  # a proxy gets the absolute URL
        if data is None:
            self.send_error(404)
            return
        start, rng = 0, self.headers.get("Range")
        if rng and not srv.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.stall_after is not None:
            self.wfile.write(body[:srv.stall_after])
            self.wfile.flush()
            srv.release.wait(30)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files, self.log = files, []
        self.ignore_range, self.stall_after = False, None
        self.release = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve():
    servers = []

    def start(files=None):
        s = _Server(dict(files or {"/full.bin": DATA, "/m-things.ckpt": SMALL}))
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.release.set()
        s.shutdown()
        s.server_close()


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """No proxy from the environment; any connection to a host other than 127.0.0.1 fails the test."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"a test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def _registry(root: Path, base: str, **extra_entries) -> None:
    """A registry in $BLURGEN_ZOO naming files on the local server (zoo.py prefers it)."""
    entries = {
        "full": dict(kind="other", file="full.bin", sha256=SHA, url=f"{base}/full.bin"),
        "prefix": dict(kind="ptlflow", model="fastflownet", ptlflow_ckpt="things", file="m-things.ckpt",
                       sha256_prefix=SMALL_SHA[:4], url=f"{base}/m-things.ckpt"),
        "wrong": dict(kind="other", file="wrong.bin", sha256=hashlib.sha256(b"x").hexdigest(),
                      url=f"{base}/full.bin"),
        "missing": dict(kind="other", file="nope.bin", sha256=SHA, url=f"{base}/nope.bin"),
        "manual": dict(kind="superslomo", file="S.ckpt", source="https://drive.example/file"),
        **extra_entries,
    }
    text = ""
    for name, row in entries.items():
        if row is None:
            continue
        row = {"name": name, "source": "test", "licence": "test", **row}
        text += "\n[[checkpoint]]\n" + "".join(f'{k} = "{v}"\n' for k, v in row.items())
    (root / "registry.toml").write_text(text)


@pytest.fixture
def zroot(tmp_path, monkeypatch, serve):
    root = tmp_path / "zoo"
    root.mkdir()
    monkeypatch.setenv("BLURGEN_ZOO", str(root))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    srv = serve()
    _registry(root, srv.url)
    return root, srv


def _fetch(*args):
    return CliRunner().invoke(cli, ["zoo", "fetch", *args])


def test_full_download_checks_the_digest_and_is_not_repeated(zroot):
    root, srv = zroot
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    dest = root / "weights" / "full.bin"
    assert dest.read_bytes() == DATA and not (root / "weights" / "full.bin.part").exists()
    assert f"sha256 {SHA}" in res.output
    assert zoo.find("full") == dest
    res = _fetch("full")
    assert res.exit_code == 0 and "already present and intact" in res.output
    assert len(srv.log) == 1  # no second request
    res = _fetch("full", "--force", "--quiet")
    assert res.exit_code == 0 and len(srv.log) == 2


def test_resume_sends_a_range_and_gives_the_whole_file(zroot):
    root, srv = zroot
    (root / "weights").mkdir()
    (root / "weights" / "full.bin.part").write_bytes(DATA[:100_000])
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    assert srv.log == [("/full.bin", "bytes=100000-")]
    assert (root / "weights" / "full.bin").read_bytes() == DATA
    assert not (root / "weights" / "full.bin.part").exists()


def test_server_that_ignores_range_restarts_from_zero(zroot):
    root, srv = zroot
    srv.ignore_range = True
    (root / "weights").mkdir()
    (root / "weights" / "full.bin.part").write_bytes(b"stale bytes from another file")
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    assert srv.log[0][1] == "bytes=29-"
    assert (root / "weights" / "full.bin").read_bytes() == DATA


def test_complete_part_answered_416_is_finished(zroot):
    root, srv = zroot
    (root / "weights").mkdir()
    (root / "weights" / "full.bin.part").write_bytes(DATA)
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    assert srv.log == [("/full.bin", f"bytes={len(DATA)}-")]
    assert (root / "weights" / "full.bin").read_bytes() == DATA


def test_wrong_digest_deletes_the_download_and_says_expected_and_got(zroot):
    root, srv = zroot
    res = _fetch("wrong", "--quiet")
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert "\n" not in line
    assert SHA in line and hashlib.sha256(b"x").hexdigest() in line and "deleted" in line
    assert not (root / "weights" / "wrong.bin").exists()
    assert not (root / "weights" / "wrong.bin.part").exists()


def test_a_corrupt_part_is_caught_by_the_digest(zroot):
    root, srv = zroot
    (root / "weights").mkdir()
    bad = bytearray(DATA[:100_000])
    bad[5] ^= 0xFF
    (root / "weights" / "full.bin.part").write_bytes(bytes(bad))
    res = _fetch("full", "--quiet")
    assert res.exit_code == 1 and "differs from the registry's" in res.stderr
    assert not any((root / "weights").glob("full.bin*"))
    assert _fetch("full", "--quiet").exit_code == 0  # the next try starts clean
    assert (root / "weights" / "full.bin").read_bytes() == DATA


def test_404_is_one_line_naming_the_url(zroot):
    root, srv = zroot
    res = _fetch("missing")
    assert res.exit_code == 1
    assert res.stderr.strip() == f"Error: {srv.url}/nope.bin: HTTP 404 Not Found"
    assert not any((root / "weights").glob("nope.bin*"))


def test_stalled_server_times_out_keeps_the_part_and_resumes(zroot):
    root, srv = zroot
    srv.stall_after = 50_000
    res = _fetch("full", "--timeout", "0.5", "--quiet")
    assert res.exit_code == 1
    assert "stopped answering for 0.5 s" in res.stderr and "may be offline" in res.stderr
    part = root / "weights" / "full.bin.part"
    assert part.read_bytes() == DATA[:50_000]
    assert not (root / "weights" / "full.bin").exists()
    srv.stall_after = None
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    assert srv.log[-1] == ("/full.bin", "bytes=50000-")
    assert (root / "weights" / "full.bin").read_bytes() == DATA


def test_server_that_never_answers_and_closed_port(zroot, tmp_path):
    root, _ = zroot
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        _registry(root, "http://unused",
                  silent=dict(kind="other", file="s.bin", sha256=SHA,
                              url=f"http://127.0.0.1:{silent.getsockname()[1]}/s.bin"),
                  closed=dict(kind="other", file="c.bin", sha256=SHA, url=f"http://127.0.0.1:{closed_port}/c.bin"))
        res = _fetch("silent", "--timeout", "0.5")
        assert res.exit_code == 1 and "no answer within 0.5 s" in res.stderr, res.output
        res = _fetch("closed")
        assert res.exit_code == 1 and "cannot connect" in res.stderr and "offline" in res.stderr, res.output
    finally:
        silent.close()
    assert not any((root / "weights").glob("*.part"))


def _same_prefix_other_bytes(data: bytes, n_hex: int) -> bytes:
    """Bytes that differ from ``data`` but whose sha256 starts with the same ``n_hex`` digits."""
    want = hashlib.sha256(data).hexdigest()[:n_hex]
    head = hashlib.sha256(data[:-8])
    for i in range(1, 1 << 24):
        tail = i.to_bytes(8, "little")
        h = head.copy()
        h.update(tail)
        if h.hexdigest().startswith(want):
            return data[:-8] + tail
    raise AssertionError("no collision found")


def test_prefix_only_entry_pins_the_full_digest_on_first_use(zroot, monkeypatch):
    root, srv = zroot
    res = _fetch("prefix", "--quiet")
    assert res.exit_code == 0, res.output
    assert SMALL_SHA in res.output and "trust on first use" in res.output and "pinned" in res.output
    assert SMALL_SHA in (root / "weights" / "local.toml").read_text()
    e = zoo.load_registry()["prefix"]
    assert e.sha256 == SMALL_SHA and e.pinned and not e.local
    dest = root / "weights" / "m-things.ckpt"

    # the flow estimators' lookup (what `blurgen real` uses) accepts the file ...
    monkeypatch.setattr(learned, "pretrained_checkpoints", lambda model: {"things": f"{srv.url}/m-things.ckpt"})
    assert learned.resolve_checkpoint("fastflownet", "things") == dest.resolve()

    # ... and refuses a file that matches the registry's prefix but not the pinned digest
    tampered = _same_prefix_other_bytes(SMALL, 4)
    dest.write_bytes(tampered)
    with pytest.raises(InputError, match="pinned on first use"):
        learned.resolve_checkpoint("fastflownet", "things")
    with pytest.raises(InputError, match="pinned on first use"):
        zoo.find("prefix")
    assert "ALTERED" in CliRunner().invoke(cli, ["zoo", "list"]).output
    # the prefix alone would have let it through: the pin is what catches it
    pins = (root / "weights" / "local.toml").read_text()
    (root / "weights" / "local.toml").unlink()
    assert zoo.find("prefix") == dest
    (root / "weights" / "local.toml").write_text(pins)

    res = _fetch("prefix", "--quiet")  # present but altered: fetched again, checked against the pin
    assert res.exit_code == 0, res.output
    assert dest.read_bytes() == SMALL and "trust on first use" not in res.output


def test_pin_refuses_a_later_different_download(zroot, serve):
    root, srv = zroot
    assert _fetch("prefix", "--quiet").exit_code == 0
    srv.files["/m-things.ckpt"] = _same_prefix_other_bytes(SMALL, 4)  # upstream changed
    res = _fetch("prefix", "--force", "--quiet")
    assert res.exit_code == 1 and "pinned on first use" in res.stderr and SMALL_SHA in res.stderr
    assert (root / "weights" / "m-things.ckpt").read_bytes() == SMALL  # the good file stays


def test_pin_contradicting_the_prefix_is_refused(zroot):
    root, _ = zroot
    (root / "weights").mkdir()
    (root / "weights" / "local.toml").write_text(
        '[[checkpoint]]\nname = "prefix"\nkind = "ptlflow"\nfile = "m-things.ckpt"\n'
        f'sha256 = "{"0" * 64}"\n')
    with pytest.raises(InputError, match="does not start with the registry's"):
        zoo.load_registry()


def test_all_fetches_every_entry_with_a_url(tmp_path, monkeypatch, serve):
    root = tmp_path / "zoo"
    root.mkdir()
    monkeypatch.setenv("BLURGEN_ZOO", str(root))
    srv = serve()
    _registry(root, srv.url, wrong=None, missing=None)
    res = _fetch("--all", "--quiet")
    assert res.exit_code == 0, res.output
    assert (root / "weights" / "full.bin").read_bytes() == DATA
    assert (root / "weights" / "m-things.ckpt").read_bytes() == SMALL
    assert "manual: skipped, no download address" in res.output
    assert _fetch("--all", "full").exit_code == 2  # names or --all
    assert _fetch().exit_code == 2


def test_entry_without_url_is_refused_with_where_to_get_it(zroot):
    res = _fetch("manual")
    assert res.exit_code == 1
    assert "no download address" in res.stderr and "https://drive.example/file" in res.stderr
    assert "blurgen zoo add FILE --name manual" in res.stderr


def test_http_proxy_variable_is_honoured(zroot, serve, monkeypatch):
    root, origin = zroot
    proxy = serve({"/full.bin": DATA})  # answers absolute-URL requests as a proxy would
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.delenv("no_proxy")
    res = _fetch("full", "--quiet")
    assert res.exit_code == 0, res.output
    assert proxy.log == [(f"{origin.url}/full.bin", None)] and origin.log == []
    assert (root / "weights" / "full.bin").read_bytes() == DATA

    monkeypatch.setenv("no_proxy", "127.0.0.1")  # and no_proxy sends it direct
    assert _fetch("full", "--force", "--quiet").exit_code == 0
    assert len(proxy.log) == 1 and origin.log == [("/full.bin", None)]


def test_committed_registry_urls_point_at_the_release_files():
    reg = zoo.load_registry(Path(__file__).resolve().parents[1] / "model_zoo")
    for name in ("pwcnet-things", "flownet2-things"):
        e = reg[name]
        assert e.url.startswith("https://github.com/hmorimitsu/ptlflow/releases/download/")
        assert e.url.rsplit("/", 1)[1] == e.file
    assert not reg["superslomo-adobe240"].url  # Google Drive: not a plain HTTP download
