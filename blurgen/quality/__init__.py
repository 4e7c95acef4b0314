"""Quality estimates stored with every sample (docs/quality.md).

- ``blurgen.quality.label``: per-pixel uncertainty of a pseudo-ground-truth flow label
  (``uncertainty``, ``uncertainty_bwd`` arrays) and ``label_epe_est`` for real blur;
- ``blurgen.quality.fidelity``: ``fidelity_db_est``, the expected PSNR of a synthetic
  Monkaa blur against the continuous-time blur;
- ``blurgen.quality.calibration``: the small monotone models that turn signals into those
  numbers, fitted on the procedural sample's exact truth (``blurgen calibrate``) and
  shipped as JSON in ``blurgen/resources/calibration``.

Importing this package imports numpy only (OpenCV and scipy load when used).
"""
