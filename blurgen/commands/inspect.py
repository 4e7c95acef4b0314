"""`blurgen preview` and `blurgen stats`: look at a dataset folder."""

from __future__ import annotations

import click


@click.command("preview")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "png", type=click.Path(dir_okay=False), default=None,
              help="Where to write the contact sheet (default OUT/preview.png).")
@click.option("-n", "--samples", default=8, show_default=True, help="Number of random samples.")
@click.option("--seed", default=0, show_default=True, help="Which random samples.")
@click.option("--uncertainty/--no-uncertainty", default=None,
              help="Show the label's uncertainty map (px) beside the flow [when the shards have one].")
def preview(out: str, png: str | None, samples: int, seed: int, uncertainty: bool | None) -> None:
    """Contact sheet of random samples: blurred image, flow colour, uncertainty, first/last frames,
    key, s/n and the quality estimates."""
    from pathlib import Path

    from blurgen import report

    dest = report.write_preview(Path(out), Path(png) if png else Path(out) / "preview.png", n=samples, seed=seed,
                                uncertainty=uncertainty)
    click.echo(f"wrote {dest}")


@click.command("stats")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Histogram PNG (default OUT/stats.png).")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def stats(out: str, plot: str | None, as_json: bool) -> None:
    """Counts per split and source, histograms of s, n, flow magnitude and the quality estimates
    (label_epe_est, fidelity_db_est), skipped reasons."""
    import json
    from pathlib import Path

    from blurgen import report

    st = report.compute_stats(Path(out))
    dest = report.write_stats_plot(st, Path(plot) if plot else Path(out) / "stats.png")
    if as_json:
        summary = {k: v for k, v in st.items() if k not in report.DISTRIBUTIONS}
        summary["distributions"] = {k: report.summary(st.get(k, [])) for k in report.DISTRIBUTIONS}
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(report.format_stats(st))
        click.echo(f"plot: {dest}")
