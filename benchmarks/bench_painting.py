"""Does the painting speak? The plan's answer to a painting's look, on pictures never trained on.

``fixtures/painting_set.json`` names the pictures and comments (written before any result was
seen): a report set the notes starter never trained on, and a tune set it did, on which the
steering's gains were chosen. For each picture, with no seed and seeds 1-3:

1. **Look**: the same plain comment on the picture, on a dark, muted copy (brightness x0.35,
   saturation x0.3) and on a brighter, more saturated one (x1.3, x1.5): is the dark copy
   slower and softer (and minor at least as often), the bright one faster and louder?
2. **Spread**: the plain comment across all pictures: tempo standard deviation, modes,
   instruments.
3. **Conflict**: a joyful comment on the dark copy against the same comment on the bright
   copy (and on the darkest real pictures against the brightest): is the dark one slower or
   minor where the bright one is major?
4. **The comment still leads**: sad against joyful comments on each picture: minor against
   major?
5. **Cost**: the painting measures (look + subjects) per picture.

    python benchmarks/bench_painting.py [--set report|tune] [--bundle B]
        [--shared ../shared/data] [--seeds 1,2,3] [--json figures.json] [--reference]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("A2M_EMBED_CACHE", "0")

from PIL import Image, ImageEnhance  # noqa: E402

from a2m_core.engine import Art2Music  # noqa: E402
from a2m_core.painting import measure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pictures(names: list[str], shared: Path, work: Path) -> dict[str, Path]:
    """Each fixture name's image file: ``wikiart:`` from shared/data, ``gcompris:`` a whole
    Van Gogh, ``piece:`` a painting's first jigsaw piece, ``photo:`` a landmark photo."""
    from trainer.data.paintings import extract_gcompris, extract_gcompris_photos

    kinds = {n.split(":", 1)[0] for n in names}
    crops = extract_gcompris(work / "paintings") if kinds & {"gcompris", "piece"} else []
    photos = extract_gcompris_photos(work / "photos") if "photo" in kinds else []
    out = {}
    for name in names:
        kind, stem = name.split(":", 1)
        if kind == "wikiart":
            out[name] = shared / "wikiart" / f"{stem}.jpg"
        elif kind == "photo":
            out[name] = next(c.path for c in photos if c.painting == stem)
        else:
            want = "whole" if kind == "gcompris" else "piece"
            out[name] = sorted(c.path for c in crops
                               if c.painting == stem and c.kind == want)[0]
    return out


def variant(img: Image.Image, factors: dict[str, float]) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(factors["brightness"])
    return ImageEnhance.Color(img).enhance(factors["saturation"])


def share(flags: list[bool]) -> float:
    return sum(flags) / max(len(flags), 1)


def reference_constants(work: Path) -> dict[str, tuple[float, float]]:
    """``painting.REFERENCE``: the raw measures' mean and spread over the training crops."""
    import numpy as np

    from trainer.data.paintings import extract_gcompris
    from trainer.notes_starter import HELD_OUT_PAINTINGS

    rows = []
    for c in extract_gcompris(work / "paintings"):
        if c.painting in HELD_OUT_PAINTINGS:
            continue
        lk = measure(Image.open(c.path))
        rows.append([0.69 * lk.brightness + 0.22 * lk.saturation,
                     -0.31 * lk.brightness + 0.60 * lk.saturation, lk.colourfulness,
                     lk.contrast, lk.complexity])
    a = np.array(rows)
    names = ("pleasure", "vm_arousal", "colourfulness", "contrast", "complexity")
    return {k: (round(float(m), 4), round(float(s), 4))
            for k, m, s in zip(names, a.mean(0), a.std(0))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="report", choices=("report", "tune"))
    ap.add_argument("--bundle", help="bundle (default: the default bundle)")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", default=str(ROOT / "out" / "bench-painting"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--reference", action="store_true",
                    help="print painting.REFERENCE from the training crops and stop")
    args = ap.parse_args()
    work = Path(args.work)
    if args.reference:
        print(json.dumps(reference_constants(work), indent=1))
        return 0
    fixture = json.loads((ROOT / "benchmarks" / "fixtures" / "painting_set.json").read_text())
    spec = fixture[args.set]
    paths = pictures(spec["pictures"], Path(args.shared), work)
    images = {n: Image.open(p).convert("RGB") for n, p in paths.items()}
    engine = Art2Music.load(args.bundle, device="cpu")
    if not engine.is_notes:
        raise SystemExit(f"{engine.name} is a mel bundle: its plan has no controls to steer")
    seeds = [None, *[int(s) for s in args.seeds.split(",") if s]]
    print(f"bundle {engine.name}, {args.set} set ({len(images)} pictures), seeds {seeds}, "
          f"{platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")

    def plan(img: Image.Image, comment: str, seed: int | None):  # noqa: ANN202
        return engine.generate(img, comment, seed=seed).plan

    # 1. look ------------------------------------------------------------------------------
    dark_rows, bright_rows = [], []
    originals = {}
    for name, img in images.items():
        dark, bright = variant(img, fixture["dark"]), variant(img, fixture["bright"])
        for seed in seeds:
            o, d, b = (plan(x, spec["plain"], seed) for x in (img, dark, bright))
            originals[(name, seed)] = o
            dark_rows.append({"slower_softer": d.tempo_bpm < o.tempo_bpm
                              and d.velocity < o.velocity,
                              "dark_minor": d.mode == "minor", "orig_minor": o.mode == "minor"})
            bright_rows.append({"faster_louder": b.tempo_bpm > o.tempo_bpm
                                and b.velocity > o.velocity})
        print(f"  {name.split(':')[-1][:26]:26s} {o.describe()}\n  {'':26s} why: {o.why}",
              flush=True)
    look = {"dark_slower_softer": share([r["slower_softer"] for r in dark_rows]),
            "dark_minor": sum(r["dark_minor"] for r in dark_rows),
            "orig_minor": sum(r["orig_minor"] for r in dark_rows),
            "bright_faster_louder": share([r["faster_louder"] for r in bright_rows]),
            "draws": len(dark_rows)}
    print(f"1. look, {look['draws']} draws: dark copy slower and softer "
          f"{look['dark_slower_softer']:.0%} (target >= 90 %), minor {look['dark_minor']} "
          f"times against {look['orig_minor']} for the originals; bright copy faster and "
          f"louder {look['bright_faster_louder']:.0%} (target >= 85 %)", flush=True)

    # 2. spread ----------------------------------------------------------------------------
    spread = {}
    for seed in seeds:
        ps = [originals[(n, seed)] for n in images]
        spread[str(seed)] = {"tempo_std": statistics.pstdev([p.tempo_bpm for p in ps]),
                             "modes": sorted({p.mode for p in ps}),
                             "instruments": sorted({p.instrument for p in ps}),
                             "minor": sum(p.mode == "minor" for p in ps)}
        s = spread[str(seed)]
        print(f"2. spread, seed {seed}: tempo std {s['tempo_std']:.1f} bpm (target >= 20), "
              f"{s['minor']} of {len(ps)} minor, {len(s['instruments'])} instruments "
              f"({', '.join(s['instruments'])})", flush=True)

    # 3. conflict --------------------------------------------------------------------------
    def dark_holds(d, b) -> bool:  # noqa: ANN001
        return d.tempo_bpm < b.tempo_bpm or (d.mode == "minor" and b.mode == "major")

    copies = []
    for img in images.values():
        dark, bright = variant(img, fixture["dark"]), variant(img, fixture["bright"])
        for comment in spec["joyful"]:
            for seed in seeds:
                copies.append(dark_holds(plan(dark, comment, seed), plan(bright, comment, seed)))
    by_light = sorted(images, key=lambda n: measure(images[n]).brightness)
    k = max(1, len(by_light) // 4)
    natural = []
    for dn in by_light[:k]:
        for bn in by_light[-k:]:
            for comment in spec["joyful"]:
                for seed in seeds:
                    natural.append(dark_holds(plan(images[dn], comment, seed),
                                              plan(images[bn], comment, seed)))
    conflict = {"copies": share(copies), "copy_pairs": len(copies),
                "natural": share(natural), "natural_pairs": len(natural),
                "darkest": [n.split(":")[-1] for n in by_light[:k]],
                "brightest": [n.split(":")[-1] for n in by_light[-k:]]}
    joy = plan(variant(images[by_light[0]], fixture["dark"]), spec["joyful"][0], None)
    print(f"3. conflict, joyful comments: the dark copy is slower or minor where the bright "
          f"one is major in {conflict['copies']:.0%} of {len(copies)} pairs (target >= 80 %); "
          f"the {k} darkest pictures against the {k} brightest: {conflict['natural']:.0%} of "
          f"{len(natural)}\n   e.g. {joy.describe()}\n   why: {joy.why}", flush=True)

    # 4. the comment still leads -----------------------------------------------------------
    sj = []
    for img in images.values():
        for pair in spec["sad_joyful"]:
            for seed in seeds:
                s, j = plan(img, pair["sad"], seed), plan(img, pair["joyful"], seed)
                sj.append(s.mode == "minor" and j.mode == "major")
    print(f"4. sad against joyful comments: minor against major in {share(sj):.0%} of "
          f"{len(sj)} pairs (target >= 90 %)", flush=True)

    # 5. cost ------------------------------------------------------------------------------
    costs = []
    for img in images.values():
        t = time.perf_counter()
        feats = engine.encoder.encode_images([img])  # cached: the subjects' own cost
        measure(img, engine.encoder.subjects(feats)[0])
        costs.append(time.perf_counter() - t)
    cost_ms = 1000 * statistics.median(costs)
    print(f"5. painting measures (look + subjects, embedding cached): {cost_ms:.1f} ms "
          f"median per picture (target <= 20 ms)")

    result = {"bundle": engine.name, "set": args.set, "date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "look": look,
              "spread": spread, "conflict": conflict, "sad_joyful": share(sj),
              "sad_joyful_pairs": len(sj), "measures_ms": cost_ms}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
