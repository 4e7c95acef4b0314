"""One HTTP(S) download, resumable and checked: the mechanics behind ``blurgen zoo fetch``.

Nothing in the pipeline calls this; only the user's explicit ``blurgen zoo fetch`` does.
Standard library only (``urllib.request``), so proxies come from the usual variables
(``http_proxy``, ``https_proxy``, ``no_proxy``) through urllib's ``ProxyHandler``.

Layout on disk: the bytes go to ``<dest>.part`` beside ``dest``; a later call resumes it
with ``Range: bytes=N-``. Only a complete file whose digest the caller accepts is renamed
to ``dest`` (``os.replace``, atomic), so ``dest`` is either the whole checked file or
untouched.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from blurgen import __version__
from blurgen.errors import DownloadError
from blurgen.utils import fsync_dir

CHUNK = 1 << 20  # bytes read per call; a read returns as soon as some bytes arrive


def download(url: str, dest: str | os.PathLike, *, timeout: float = 30.0, quiet: bool = False,
             verify: Callable[[str], str | None] | None = None) -> str:
    """Fetch ``url`` into ``dest``; return the file's sha256 (64 lower-case hex digits).

    Args:
        url: an http:// or https:// address (redirects are followed).
        dest: the final path; its folder must exist. ``<dest>.part`` holds a partial file.
        timeout: seconds without any answer from the server (connecting or between two
            reads) before giving up. The partial file is kept for a later resume.
        quiet: no progress bar (there is none either when stderr is not a terminal).
        verify: called with the sha256 of the complete file; returns None to accept it or a
            one-line reason to refuse it. A refused file is deleted (the ``.part`` too).

    Raises:
        DownloadError: HTTP error status, unreachable host, a stall, a short body, a file
            refused by ``verify``; one line naming the address.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
        raise DownloadError(f"{url}: not an http:// or https:// address; fix the url in the registry")
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    try:
        got, total, digest = _fetch_part(url, part, timeout, quiet, dest.name)
    except BaseException:
        if part.is_file() and part.stat().st_size == 0:
            part.unlink(missing_ok=True)  # nothing arrived: leave no empty .part behind
        raise
    if total is not None and got != total:
        raise DownloadError(f"{url}: the server sent {got} of {total} bytes; kept {part}, "
                            "run the command again to resume")
    problem = verify(digest) if verify else None
    if problem:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {problem}; deleted the download ({part})")
    os.replace(part, dest)
    fsync_dir(dest.parent)  # the rename survives a crash, as atomic_path's do
    return digest


def _fetch_part(url: str, part: Path, timeout: float, quiet: bool, label: str) -> tuple[int, int | None, str]:
    """Bring ``part`` up to the whole file; returns (bytes on disk, size the server gave or None, sha256)."""
    with open(part, "ab") as f:  # append mode: opened at the end, every write goes there
        _lock(f, part)
        have = f.tell()
        resp, start, total = _open(url, have, timeout)
        if start < have:  # the server sends the whole file again
            f.truncate(start)
        h = _hash_head(part, start)
        got = start
        if resp is not None:
            got = _stream(resp, f, h, url, part, start, total, timeout, quiet, label)
        f.flush()
        os.fsync(f.fileno())
    return got, total, h.hexdigest()


def _lock(f, part: Path) -> None:
    """Refuse a second download into the same ``.part`` (POSIX advisory lock; none elsewhere)."""
    try:
        import fcntl
    except ImportError:
        return
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise DownloadError(f"{part}: another download of this file is running; wait for it") from None


def _hash_head(path: Path, n: int):
    """sha256 of the first ``n`` bytes of ``path`` (the part kept from an earlier try)."""
    h = hashlib.sha256()
    if n:
        with open(path, "rb") as f:
            while n > 0 and (b := f.read(min(CHUNK, n))):
                h.update(b)
                n -= len(b)
    return h


def _open(url: str, have: int, timeout: float):
    """The response to read and where its body starts: ``(resp or None, start, total or None)``.

    ``have`` bytes are already on disk. 206 with the asked start: resume. 200: the server
    ignored the range, start again from 0. 416 with ``*/have``: the part is already whole.
    """
    opener = urllib.request.build_opener()  # reads the proxy variables now, not at import
    headers = {"User-Agent": f"blurgen/{__version__}", "Accept-Encoding": "identity"}
    for _ in range(2):
        req = urllib.request.Request(url, headers=dict(headers, **({"Range": f"bytes={have}-"} if have else {})))
        try:
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:
                size = _range_total(e.headers.get("Content-Range", ""))
                e.close()
                if size == have:
                    return None, have, have
                have = 0  # the part is longer than the file: start again
                continue
            e.close()
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise DownloadError(_unreachable(url, e, timeout)) from None
        if resp.status == 206:
            m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if m and int(m.group(1)) == have:
                return resp, have, None if m.group(2) == "*" else int(m.group(2))
            resp.close()  # a range we did not ask for: ask for the whole file
            have = 0
            continue
        length = resp.headers.get("Content-Length")
        return resp, 0, int(length) if length and length.isdigit() else None
    raise DownloadError(f"{url}: the server answers the range request inconsistently; delete "
                        f"the .part file and try again")


def _range_total(content_range: str) -> int | None:
    m = re.match(r"bytes \*/(\d+)", content_range)
    return int(m.group(1)) if m else None


def _stream(resp, f, h, url: str, part: Path, start: int, total: int | None, timeout: float,
            quiet: bool, label: str) -> int:
    """Append the body of ``resp`` to ``f``, hashing it; returns the bytes now on disk."""
    from tqdm import tqdm

    got = start
    bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
               file=sys.stderr, disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)
    try:
        with resp:
            while chunk := resp.read1(CHUNK):
                f.write(chunk)
                h.update(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    except TimeoutError:
        raise DownloadError(f"{url}: the server stopped answering for {timeout:g} s after {got} bytes "
                            f"(the machine may be offline); kept {part}, run the command again "
                            "to resume") from None
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"{url}: download broke off after {got} bytes ({_reason(e)}); kept "
                            f"{part}, run the command again to resume") from None
    finally:
        bar.close()
    return got


def _reason(e: BaseException) -> str:
    return (str(e) or type(e).__name__).splitlines()[0]


def _unreachable(url: str, e: BaseException, timeout: float) -> str:
    """One line for a request that got no HTTP answer at all."""
    reason = getattr(e, "reason", e)
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return (f"{url}: no answer within {timeout:g} s (the machine may be offline, or needs "
                "https_proxy / http_proxy set)")
    return (f"{url}: cannot connect ({_reason(reason) if isinstance(reason, BaseException) else reason}); "
            "the machine may be offline, or needs https_proxy / http_proxy set")
