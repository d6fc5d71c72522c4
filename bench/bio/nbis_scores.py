#!/usr/bin/env python3
"""Peer run: NIST NBIS (mindtct + bozorth3) on an FVC-style folder.

Uses the `nbis-python` wheel from PyPI (Rust/UniFFI bindings over NBIS 5.0 mindtct and
bozorth3), installed by `bench/bio/peers.sh setup` into a venv outside the repo.

    nbis_scores.py DIR OUT.tsv

Extracts every `<finger>_<impression>.<ext>` image of DIR on one thread (timed), then
scores every pair (i, j), i < j in (finger, impression) order -- the order in which
`sallyport_biometrics::eval::pairs` forms its pairs -- with bozorth3 (i as probe, timed).
Writes `stem_a<TAB>stem_b<TAB>score` lines; the EER is computed by OUR evaluation code
(`eval::evaluate_scores`, run from the bench binary), so peer and engine figures are
computed identically. Timings go to stderr and to OUT.tsv.timing as `key value` lines.
"""
import os
import re
import sys
import time

import nbis

NAME = re.compile(r"^(.+)_(\d+)\.(tif|tiff|png|bmp)$", re.IGNORECASE)


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    samples = []
    for name in os.listdir(src):
        m = NAME.match(name)
        if m:
            samples.append((m.group(1), int(m.group(2)), name))
    samples.sort()
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=500.0
    )
    ex = nbis.new_nbis_extractor(settings)
    data = [open(os.path.join(src, s[2]), "rb").read() for s in samples]
    t0 = time.perf_counter()
    templates = []
    for d in data:
        try:
            templates.append(ex.extract_minutiae(d))
        except Exception:  # a failure to enrol scores 0, as in our evaluation
            templates.append(None)
    t_extract = time.perf_counter() - t0
    stems = [os.path.splitext(s[2])[0] for s in samples]
    lines = []
    n = 0
    t0 = time.perf_counter()
    for i in range(len(samples)):
        for j in range(i + 1, len(samples)):
            a, b = templates[i], templates[j]
            s = a.compare(b) if a is not None and b is not None else 0
            lines.append(f"{stems[i]}\t{stems[j]}\t{s}\n")
            n += 1
    t_compare = time.perf_counter() - t0
    with open(out, "w") as f:
        f.writelines(lines)
    mean_m = sum(len(t.get()) for t in templates if t is not None) / max(1, sum(t is not None for t in templates))
    timing = {
        "images": len(samples),
        "fte": sum(t is None for t in templates),
        "mean_minutiae": round(mean_m, 1),
        "extract_ms_per_image": round(1000 * t_extract / max(1, len(samples)), 2),
        "pairs": n,
        "compare_per_s": round(n / t_compare if t_compare > 0 else 0.0, 1),
    }
    with open(out + ".timing", "w") as f:
        for k, v in timing.items():
            f.write(f"{k} {v}\n")
    print(" ".join(f"{k}={v}" for k, v in timing.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
