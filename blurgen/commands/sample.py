"""`blurgen sample OUT`: write the bundled procedural sample (heavy imports inside)."""

from __future__ import annotations

import click


@click.command("sample")
@click.argument("out", type=click.Path(file_okay=False, writable=True))
@click.option("--size", "size", default="320x180", show_default=True, metavar="WxH",
              help="Frame size in pixels, e.g. 960x540 or 1280x720 (motion is in pixels, "
                   "so displacement statistics do not change with it).")
@click.option("--seed", default=0, show_default=True, type=int, help="Everything follows from it.")
@click.option("--only", default="monkaa,gopro,nfs,video", show_default=True,
              help="Comma-separated layouts to write.")
@click.option("--blur-step", default=0.5, show_default=True, type=float,
              help="Largest displacement (px) between consecutive sub-frame renders of a truth blur.")
@click.option("--crf", default=14, show_default=True, type=int, help="x264 quality of the video (lower is better).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes (sequences, then truth blurs, in parallel); the output does not depend on it.")
@click.option("--overwrite", is_flag=True, help="Replace the sample in a non-empty OUT.")
@click.option("--quiet", is_flag=True, help="No summary.")
def sample(out: str, size: str, seed: int, only: str, blur_step: float, crf: int, workers: int,
           overwrite: bool, quiet: bool) -> None:
    """Write the bundled procedural sample to OUT, in the real dataset layouts.

    A Monkaa tree (frames + exact PFM flows into the future and the past), a GoPro tree
    (240 fps PNG frames, one sequence with missing frames), an NfS tree (240 fps JPEG
    frames with box annotations), a 240 fps mp4, and OUT/truth with the exact flow and the
    continuous-time blur of every Monkaa pair and 7-frame window (see OUT/truth/README.md).
    Deterministic from --seed; no downloads. OUT/sample.json is written last.
    """
    import time

    from blurgen.sources.sample import SampleConfig, parse_size, write_sample

    t_start = time.perf_counter()
    width, height = parse_size(size)
    layouts = tuple(x.strip() for x in only.split(",") if x.strip())
    cfg = SampleConfig(width=width, height=height, seed=seed, only=layouts, blur_step=blur_step,
                       crf=crf, workers=workers)
    meta = write_sample(out, cfg, overwrite=overwrite)
    if quiet:
        return
    elapsed = time.perf_counter() - t_start
    click.echo(f"blurgen sample: {width}x{height}, seed {seed} -> {out} in {elapsed:.1f} s")
    click.echo(f"{'layout':<8} {'seqs':>4} {'files':>6} {'truth':>6} {'items':>11}   s (px) min / median / max")
    for layout, e in meta["layouts"].items():
        kind = "pairs" if layout == "monkaa" else "windows"
        s = e["s"]
        stats = "-" if not s["count"] else f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}"
        click.echo(f"{layout:<8} {len(e['sequences']):>4} {e['files']:>6} {e['truth_files']:>6} "
                   f"{e['truth_items']:>5} {kind:<7} {stats}")
        if "s_bands" in e:
            bands = "  ".join(f"{k}: {v}" for k, v in e["s_bands"].items())
            click.echo(f"{'':<8} s bands  {bands}")
