"""Looking at a dataset: contact sheets, statistics plots and the dataset card.

Reads shards through ``blurgen.shards.reader`` (which refuses links out of a shard), so it
works on any blurgen output folder, complete or partial.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from blurgen.errors import InputError
from blurgen.io.flowviz import flow_to_color
from blurgen.io.frames import write_image
from blurgen.shards.reader import SHARD_RE, ShardReader, list_shards
from blurgen.utils import atomic_write_text

LICENCES = {
    "monkaa": "Monkaa / SceneFlow (Mayer et al., CVPR 2016): research use only; cite the paper.",
    "gopro": "GoPro deblurring dataset (Nah et al., CVPR 2017): CC BY 4.0; cite the paper.",
    "nfs": "Need for Speed (Kiani Galoogahi et al., ICCV 2017): for research; cite the paper.",
    "video": "Your own video: your licence.",
    "frames": "Your own frames: your licence.",
    "sample": "blurgen's procedural sample: generated, no third-party content.",
    "pattern": "Generated test pattern, no third-party content.",
}


def shard_files(out: Path) -> list[Path]:
    """Complete shards of an output folder, sorted by name ([] when there are none yet); of
    a folder of datasets, those of each dataset in it (``shards.reader.list_shards``)."""

    out = Path(out)
    if not out.is_dir():
        raise InputError(out, "no such output folder", "give the --out folder of a blurgen run")
    try:
        return list_shards(out)
    except InputError:  # none yet
        return []


def read_records(out: Path) -> list[dict]:
    """Key, shard (its path in ``out``), split, index and meta of every sample in the
    folder's shards."""

    recs = []
    for p in shard_files(out):
        split = SHARD_RE.match(p.name).group("split")
        with ShardReader(p) as r:
            for i, k in enumerate(r.keys()):
                recs.append({"key": k, "shard": p.relative_to(out).as_posix(), "split": split, "index": i,
                             "meta": r.meta(i)})
    return recs


def _fit(img: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    height = max(1, round(h * width / w))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if w > width else cv2.INTER_LINEAR)


def _label(tile_w: int, lines: list[str]) -> np.ndarray:
    import cv2

    band = np.full((16 * len(lines) + 6, tile_w, 3), 255, np.uint8)
    for j, text in enumerate(lines):
        cv2.putText(band, text, (4, 15 + 16 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def _tag(img: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of a tile, white on a dark box."""
    import cv2

    img = img.copy()
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    img[: th + 6, : tw + 6] = (img[: th + 6, : tw + 6] * 0.35).astype(np.uint8)
    cv2.putText(img, text, (3, th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


UNCERTAINTY_SCALE = 4.0  # px at full colour in the preview's uncertainty tiles


def uncertainty_to_color(u: np.ndarray, scale: float = UNCERTAINTY_SCALE) -> np.ndarray:
    """(H, W) uncertainty in px -> (H, W, 3) uint8 RGB (inferno colour map, 0 .. ``scale`` px;
    larger values saturate)."""
    import cv2

    level = np.clip(np.nan_to_num(np.asarray(u, np.float32), nan=scale) / scale, 0, 1)
    bgr = cv2.applyColorMap(np.rint(level * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(bgr[..., ::-1])


def _has_array(shard: Path, name: str) -> bool:
    with ShardReader(shard) as reader:
        return name in reader.names


def _row_text(key: str, meta: dict) -> str:
    bits = [key] + [f"{k}={meta[k]:.1f}" if isinstance(meta[k], float) else f"{k}={meta[k]}"
                    for k in ("s", "n") if k in meta]
    if meta.get("label_epe_est") is not None:
        bits.append(f"label EPE~{meta['label_epe_est']:.2f}px")
    if meta.get("fidelity_db_est") is not None:
        bits.append(f"blur ~{meta['fidelity_db_est']:.1f}dB")
    return "  ".join(bits)


def contact_sheet(out: Path, n: int = 8, seed: int = 0, tile_width: int = 200,
                  uncertainty: bool | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB: one row per random sample: blur | flow colour | [uncertainty] |
    first | last, and a line with the key, s, n and the quality estimates. ``uncertainty``:
    show the ``uncertainty`` map (colour scale 0 .. ``UNCERTAINTY_SCALE`` px); None = when
    the shards hold one (a row whose shard has none shows a blank tile)."""

    recs = read_records(out)
    if not recs:
        raise InputError(out, "no samples in this folder's shards", "run synth-monkaa or real into it first")
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(recs), size=min(n, len(recs)), replace=False))
    if uncertainty is None:
        uncertainty = any(_has_array(Path(out) / s, "uncertainty") for s in {recs[i]["shard"] for i in pick})
    rows = []
    for i in pick:
        r = recs[i]
        with ShardReader(Path(out) / r["shard"]) as reader:
            extras = [e for e in ("first", "last") if e in reader.names]
            unc = ["uncertainty"] if uncertainty and "uncertainty" in reader.names else []
            arrays = reader.read(r["index"], names=["blur", "flow", *unc, *extras])
        # the flow is shrunk to the tile, then coloured: the same picture for a fraction of
        # the work (colouring a 1280x720 field costs more than reading it)
        tiles = [arrays["blur"], flow_to_color(_fit(arrays["flow"], tile_width))]
        names = ["blur", "flow 1->7" if r["meta"].get("window") else "flow"]
        if uncertainty:
            blank = np.full_like(arrays["blur"], 255)
            tiles.append(uncertainty_to_color(arrays["uncertainty"]) if unc else blank)
            names.append(f"uncertainty 0-{UNCERTAINTY_SCALE:g}px" if unc else "no uncertainty")
        tiles += [arrays[e] for e in extras]
        names += extras
        fitted = [_tag(_fit(t, tile_width), name) for t, name in zip(tiles, names)]
        hmax = max(t.shape[0] for t in fitted)
        fitted = [np.vstack([t, np.full((hmax - t.shape[0], tile_width, 3), 255, np.uint8)]) for t in fitted]
        strip = np.hstack(fitted)
        rows.append(np.vstack([strip, _label(strip.shape[1], [_row_text(r["key"], r["meta"])])]))
    wmax = max(r.shape[1] for r in rows)
    rows = [np.hstack([r, np.full((r.shape[0], wmax - r.shape[1], 3), 255, np.uint8)]) for r in rows]
    return np.vstack(rows)


def write_preview(out: Path, png: Path, n: int = 8, seed: int = 0, uncertainty: bool | None = None) -> Path:

    sheet = contact_sheet(out, n=n, seed=seed, uncertainty=uncertainty)
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    write_image(png, sheet)
    return Path(png)


def _manifest(out: Path) -> dict:
    p = Path(out) / "manifest.json"
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise InputError(p, f"not valid JSON ({e})", "rerun the job with --resume to rewrite it") from None


def _manifests(out: Path) -> list[dict]:
    """The manifests of ``out`` and of the datasets whose shards it lists (a folder of datasets)."""
    folders = sorted({Path(out)} | {p.parent for p in shard_files(out)})
    return [m for m in (_manifest(f) for f in folders) if m]


def compute_stats(out: Path, flow_pixels: int = 20000, seed: int = 0) -> dict:
    """Counts per split and source, s / n / flow-magnitude samples, skipped reasons (of a
    dataset folder, or of every dataset in a folder of them)."""

    recs = read_records(out)
    mans = _manifests(out)
    if not recs and not mans:
        raise InputError(out, "no shards and no manifest: not a blurgen dataset",
                         "give the --out folder of a blurgen run, or a folder of such folders")
    split_of = {s.get("key"): s.get("split") for man in mans for s in man.get("samples", [])}
    by_split = Counter(split_of.get(r["key"]) or r["split"] for r in recs)
    by_source = Counter(r["meta"].get("source", "?") for r in recs)
    s_vals = [float(r["meta"]["s"]) for r in recs if "s" in r["meta"]]
    n_vals = [int(r["meta"]["n"]) for r in recs if "n" in r["meta"]]
    rng = np.random.default_rng(seed)
    mags = []
    per = max(1, flow_pixels // max(1, len(recs)))
    for p in shard_files(out):
        with ShardReader(p) as reader:
            for i in range(len(reader)):
                fl = reader.read(i, names=["flow"])["flow"].reshape(-1, 2)
                idx = rng.choice(len(fl), size=min(per, len(fl)), replace=False)
                mags.append(np.linalg.norm(fl[idx], axis=1))
    mags = np.concatenate(mags) if mags else np.zeros(0)
    skipped = Counter(s.get("reason", "?").split(":")[0] for man in mans for s in man.get("skipped", []))
    return {"samples": len(recs), "by_split": dict(by_split), "by_source": dict(by_source),
            "s": s_vals, "n": n_vals, "flow_magnitude": mags.tolist(), "skipped": dict(skipped),
            **{name: [float(r["meta"][name]) for r in recs if r["meta"].get(name) is not None] for name in QUALITY}}


# per-sample quality estimates in the meta (docs/quality.md): name -> (unit, what)
QUALITY = {"label_epe_est": ("px", "estimated label EPE"), "fidelity_db_est": ("dB", "estimated blur PSNR")}
DISTRIBUTIONS = ("s", "n", "flow_magnitude", *QUALITY)


def summary(values: list[float]) -> dict[str, float] | None:
    """``{"n", "min", "median", "mean", "max"}`` of a list (None when empty): what ``blurgen
    stats --json`` prints for each distribution."""
    v = np.asarray(values, float)
    if not v.size:
        return None
    return {"n": int(v.size), "min": round(float(v.min()), 4), "median": round(float(np.median(v)), 4),
            "mean": round(float(v.mean()), 4), "max": round(float(v.max()), 4)}


def write_stats_plot(stats: dict, png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("flow magnitude (px, sampled pixels)", stats["flow_magnitude"])]
    if stats["s"]:
        panels.insert(0, ("s = max displacement (px)", stats["s"]))
    if stats["n"]:
        panels.insert(1, ("n = interpolated frames", stats["n"]))
    for name, (unit, what) in QUALITY.items():
        if stats.get(name):
            panels.append((f"{name}: {what} ({unit})", stats[name]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (title, vals) in zip(axes[0], panels):
        ax.hist(vals, bins=30, color="#3b6ea5")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("count", fontsize=8)
    fig.suptitle(f"{stats['samples']} samples; " + ", ".join(f"{k}: {v}" for k, v in sorted(stats["by_split"].items())),
                 fontsize=9)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def format_stats(stats: dict) -> str:
    lines = [f"samples: {stats['samples']}"]
    lines += [f"  split {k}: {v}" for k, v in sorted(stats["by_split"].items())]
    lines += [f"  source {k}: {v}" for k, v in sorted(stats["by_source"].items())]
    for name in DISTRIBUTIONS:
        v = np.asarray(stats.get(name, []), float)
        if v.size:
            unit = f" {QUALITY[name][0]}" if name in QUALITY else ""
            of = f" ({v.size} samples)" if name in QUALITY else ""
            lines.append(f"{name}: min {v.min():.2f}  median {np.median(v):.2f}  max {v.max():.2f}{unit}{of}")
    if stats["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} ({v})" for k, v in sorted(stats["skipped"].items())))
    return "\n".join(lines)


def dataset_card(out: Path, manifest: dict | None = None) -> str:
    """The text of OUT/README.md: what the dataset is, how it was made, how to load it."""
    out = Path(out)
    man = manifest if manifest is not None else _manifest(out)
    recs = read_records(out)
    kind = man.get("job", {}).get("kind") or man.get("kind") or "dataset"
    params = man.get("job", {}).get("params", {})
    sources = sorted({r["meta"].get("source", "?") for r in recs}) or [params.get("source", kind)]
    splits = Counter(r["split"] for r in recs)
    skipped = Counter(s.get("reason", "?") for s in man.get("skipped", []))
    shards = sorted({r["shard"] for r in recs})
    cmd = man.get("command")
    cmd = " ".join(cmd) if isinstance(cmd, list) else (cmd or "")
    lines = [
        f"# blurgen dataset: {kind} ({', '.join(sources)})",
        "",
        "Single motion-blurred images with optical-flow labels, for training B2F-net "
        "(Argaw et al., AAAI 2021) and similar models. Made by blurgen "
        f"{(man.get('blurgen') or {}).get('version', '')}.".replace(" .", "."),
        "",
        f"- command: `{cmd}`" if cmd else "- command: (see manifest.json)",
        f"- seed: {man.get('seed', '?')}; recipe digest: {man.get('recipe_digest', '?')}",
        f"- samples: {len(recs)} in {len(shards)} shard(s); "
        + ", ".join(f"{k}: {v}" for k, v in sorted(splits.items())),
    ]
    if skipped:
        lines.append("- skipped: " + "; ".join(f"{k} ({v})" for k, v in sorted(skipped.items())))
    if (out / "preview.png").is_file():
        lines += ["", "![preview](preview.png)"]
    lines += [
        "",
        "## Load it with plain h5py",
        "",
        "```python",
        "import glob, json, h5py",
        f"for path in sorted(glob.glob('{out.name}/*.h5')):",
        "    with h5py.File(path, 'r') as f:",
        "        blur = f['blur'][0]        # (H, W, 3) uint8 RGB",
        "        flow = f['flow'][0]        # (H, W, 2) float32 px, first -> last, [..., 0] = x",
        "        key = f['key'][0].decode()",
        "        meta = json.loads(f['meta'][0])",
        "```",
        "",
    ]
    if "uncertainty" in _datasets(out):
        lines.insert(-2, "        unc = f['uncertainty'][0]  # (H, W) float16 px, expected EPE of flow per pixel")
    lines += [
        "Datasets: " + ", ".join(sorted(_datasets(out))) + ". Check the folder against its "
        "manifest with `blurgen verify " + out.name + "`; rebuild it with "
        "`blurgen rerun " + out.name + "/manifest.json --root ROOT --out OUT2`.",
        "",
        *quality_section(recs, "uncertainty" in _datasets(out)),
        "## Licences of the sources",
        "",
    ]
    lines += [f"- {LICENCES.get(s, s + ': see the source dataset')}" for s in sources]
    return "\n".join(lines) + "\n"


def quality_section(recs: list[dict], maps: bool) -> list[str]:
    """The card's lines on the samples' quality estimates (docs/quality.md); ``maps``: the
    shards hold the uncertainty maps."""
    lines = ["## Quality of the samples", ""]
    found = False
    for name, (unit, what) in QUALITY.items():
        v = np.asarray([r["meta"][name] for r in recs if r["meta"].get(name) is not None], float)
        if not v.size:
            continue
        found = True
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        lines.append(f"- `{name}` ({what}, {unit}), {v.size} of {len(recs)} samples: median {p50:.2f}, "
                     f"10th-90th percentile {p10:.2f}-{p90:.2f}, range {v.min():.2f}-{v.max():.2f}")
    cals = Counter(r["meta"]["quality_calibration"] for r in recs if r["meta"].get("quality_calibration"))
    if cals:
        lines.append("- calibration: " + ", ".join(f"`{k}` ({n})" for k, n in sorted(cals.items()))
                     + "; fitted on blurgen's procedural sample (docs/quality.md)")
    if any("fidelity_signals" in r["meta"] for r in recs) and not any("fidelity_db_est" in r["meta"] for r in recs):
        found = True
        lines.append("- `fidelity_signals` stored, no calibration for this interpolator: fit one with "
                     "`blurgen calibrate --kind fidelity`")
    if not found:
        return lines + ["No quality estimates: made with `--no-quality`, or by a blurgen from before them.", ""]
    if maps:
        lines.append("- datasets `uncertainty` / `uncertainty_bwd`: the expected end-point error of `flow` / "
                     "`flow_bwd` per pixel, (N,H,W) float16 px")
    lines += ["- train on the better samples: `blurgen train --max-label-epe X`, `--min-fidelity-db Y`, "
              "`--uncertainty-weight S` (samples without an estimate are kept)", ""]
    return lines


def _datasets(out: Path) -> set[str]:

    names: set[str] = set()
    for p in shard_files(out)[:1]:
        with ShardReader(p) as reader:
            names |= {*reader.names, "key", "meta"}
    return names


def write_card(out: Path, manifest: dict | None = None) -> Path:
    p = Path(out) / "README.md"
    atomic_write_text(p, dataset_card(out, manifest))
    return p


def write_companions(out: Path, manifest: dict | None = None, preview_samples: int = 8) -> list[Path]:
    """The preview contact sheet and the dataset card beside a run's shards.

    Called at the end of every dataset run; files that cannot be made (no samples yet) are
    left out rather than failing a run whose shards are already safe.
    """
    out = Path(out)
    written = []
    if read_records(out):
        written.append(write_preview(out, out / "preview.png", n=preview_samples))
        written.append(write_card(out, manifest))
    return written
