"""Analyse photos from the command line.

    python -m core.analyze PHOTO... --json [--masks DIR] [--weights DIR]

Prints one JSON object per photo, in input order. A photo that cannot be read gives
{"path": ..., "error": "..."} and a non-zero exit code; the other photos are still analysed.
A close-up of skin without a face is measured: "face": {"found": false}, "assessable": true,
"closeup": true and the grade marked "graded_from_closeup": true (no alignment, regions or
GAGS). A picture that is not skin is not assessable, with the reason in words. "typicality"
(0-1) says how much the photo looks like the training photos; "unusual": true below the
warning level. "colour" (null when not assessable) holds redness and dark marks against the
patient's own clear skin (core.colour_measures): "reference" ("colour-referenced" when a colour
card corrected the photo, else "self-referenced"), "red_area_percent" and
"dark_mark_area_percent" of the measured skin, "red_mean_delta_a" and "dark_mark_mean_delta_l"
inside them, "clear_skin" (L, a, b, ita_degrees), "measured_skin_percent", "card_delta_e2000".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import ModelNotInstalledError, PhotoError, WeightsError
from core.manifest import DEFAULT_WEIGHTS_DIR

EXIT_PHOTO_ERROR = 1
EXIT_MODEL_ERROR = 3


def mask_name(photo_path: str, used: set[str]) -> str:
    """`<photo stem>_mask.png`, numbered when two photos share a stem."""
    stem = Path(photo_path).stem or "photo"
    name, n = f"{stem}_mask.png", 1
    while name in used:
        n += 1
        name = f"{stem}_mask_{n}.png"
    used.add(name)
    return name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m core.analyze", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--json", action="store_true", help="one JSON object per photo (default: a summary line)")
    p.add_argument("--masks", type=Path, metavar="DIR", help="write a lesion mask PNG per photo")
    p.add_argument("--weights", type=Path, metavar="DIR", default=DEFAULT_WEIGHTS_DIR,
                   help="weights folder (default: the project's weights/)")
    p.add_argument("--engine", choices=("auto", "onnx", "torch"), default="auto",
                   help="what runs the segmenter: ONNX Runtime when the weights carry its graph "
                        "(auto, the default; no torch import), or always onnx / torch")
    return p.parse_args(argv)


def summary_line(path: str, result: dict) -> str:
    if "error" in result:
        return f"{path}: ERROR {result['error']}"
    if not result["assessable"]:
        return f"{path}: NOT ASSESSABLE - {' '.join(result['not_assessable_reasons'])}"
    c, g = result["counts"], result["grade"]
    closeup = " from a close-up without a face" if g.get("graded_from_closeup") else ""
    unusual = "; unusual photo, check the numbers" if result.get("unusual") else ""
    colour = result.get("colour")
    redness = (f", red area {colour['red_area_percent']:.1f}% and dark marks "
               f"{colour['dark_mark_area_percent']:.1f}% of the skin ({colour['reference']})"
               if colour else "")
    return (f"{path}: {c['total']} lesions ({c['inflammatory']} inflammatory, of them {c['nodule']} "
            f"nodules/cysts; {c['non_inflammatory']} non-inflammatory), grade {g['value']} {g['label']} "
            f"({g['confidence']:.0%}){closeup}{redness}, quality {'ok' if result['quality']['passed'] else 'FAILED'}"
            f"{unusual}")


def result_for(analyzer, photo, path: str, masks: Path | None = None,  # noqa: ANN001
               used: set[str] | None = None) -> dict:
    """One photo's JSON-ready result (and its mask PNG under `masks`): what the command prints,
    and what benchmarks/bench_analyze.py times, so both measure the same path."""
    import numpy as np

    from core.imaging import encode_png

    analysis = analyzer.analyze(photo)
    result = {"path": path, **analysis.to_dict()}
    if masks is not None:
        # A photo that cannot be assessed claims no lesion: its mask is empty.
        found = analysis.kind_mask > 0 if analysis.assessable else np.zeros_like(analysis.kind_mask, bool)
        target = masks / mask_name(path, used if used is not None else set())
        target.write_bytes(encode_png(np.where(found, 255, 0).astype(np.uint8)))
        result["mask_path"] = str(target)
    return result


def _import_analysis_code() -> None:
    """Import what the first analysis needs (no model is loaded here). A failure is left to the
    main thread, which imports the same modules and reports it."""
    try:
        import core.pipeline  # noqa: F401  (ONNX Runtime, SciPy, the pipeline's modules)
        import skimage.segmentation  # noqa: F401  (core.lesions imports its watershed on first use)
    except Exception:  # noqa: BLE001, S110
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from core.imaging import read_photo_file

    emit = (lambda path, r: print(json.dumps(r), flush=True)) if args.json else \
        (lambda path, r: print(summary_line(path, r), flush=True))
    if args.masks:
        args.masks.mkdir(parents=True, exist_ok=True)
    # The models load on the first photo that can be read: a missing or broken file is answered
    # at once, without loading a model. Cold start: while the first photo file is decoded, the
    # analysis code is imported beside it (imports only; the decode runs outside the GIL).
    if args.photos and Path(args.photos[0]).is_file():
        import threading

        threading.Thread(target=_import_analysis_code, name="acne-imports").start()
    analyzer = None
    status, used = 0, set()
    for index, path in enumerate(args.photos):
        try:
            photo = read_photo_file(path)
        except PhotoError as exc:
            emit(path, {"path": path, "error": str(exc)})
            status = EXIT_PHOTO_ERROR
            continue
        if analyzer is None:
            try:
                from core.pipeline import load_analyzer

                analyzer = load_analyzer(args.weights, engine=args.engine)
            except (ModelNotInstalledError, WeightsError) as exc:
                for rest in args.photos[index:]:
                    emit(rest, {"path": rest, "error": str(exc)})
                return EXIT_MODEL_ERROR
        try:
            result = result_for(analyzer, photo, path, args.masks, used)
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
            emit(path, {"path": path, "error": f"The analysis failed on this photo: {exc}"})
            status = EXIT_PHOTO_ERROR
            continue
        emit(path, result)
    return status


if __name__ == "__main__":
    sys.exit(main())
