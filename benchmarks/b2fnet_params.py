"""Parameter counts of B2F-net: the variants `blurgen train` can build, and where the full
network's parameters sit (the tables of docs/training.md).

Counts are exact (no timing): the networks are built on the CPU with random weights.

    python benchmarks/b2fnet_params.py
"""

from __future__ import annotations

import argparse


def millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    from blurgen.models.b2fnet import B2FNet, B2FNetConfig, count_parameters

    variants = [
        ("full (`width 1`)", B2FNetConfig()),
        ("`--no-stn`", B2FNetConfig(stn=False)),
        ("`--no-refine`", B2FNetConfig(refine=False)),
        ("`--no-stn --no-refine`", B2FNetConfig(stn=False, refine=False)),
        ("`--width 0.25`", B2FNetConfig(width=0.25)),
        ("`--width 0.125`", B2FNetConfig(width=0.125)),
    ]
    print("| variant (`blurgen train` flags) | parameters |")
    print("|---|---|")
    for name, cfg in variants:
        print(f"| {name} | {count_parameters(B2FNet(cfg)):,} |")

    net = B2FNet(B2FNetConfig())
    dec = net.decoder_first
    blocks = [count_parameters(b) for b in dec.blocks]  # level 1 first
    print(f"\nfull network, {count_parameters(net):,} parameters ({millions(count_parameters(net))}):")
    print(f"  encoder                    {millions(count_parameters(net.encoder))}")
    print(f"  each decoder               {millions(count_parameters(dec))}")
    print(f"    its refining blocks      {millions(sum(blocks))} (level 6: {millions(blocks[5])}, "
          f"level 5: {millions(blocks[4])})")
    print(f"    its STNs                 {millions(count_parameters(dec.stns))}")
    print(f"    its deconvolutions       {millions(count_parameters(dec.ups))}")
    print(f"  flow estimators (6 levels) {millions(count_parameters(net.estimators))}")
    print(f"  context network            {millions(count_parameters(net.context))}")


if __name__ == "__main__":
    main()
