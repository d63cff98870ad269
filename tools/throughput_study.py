"""Throughput of every roadmap step (issue 6, notebook 09): run on a GPU machine.

    python tools/throughput_study.py --out build/reference/throughput.json
    python tools/throughput_study.py --steps 0 16 --batch-size 8 --image-size 64 --repeats 2 --no-compile  # CPU check

Synthetic data on the device, warm-up excluded, medians of repeated timings; writes one JSON
file (copy it to convnext_lesson/reference/throughput.json to show it in notebook 09).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from convnext_lesson.training.benchmark import throughput_study  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", nargs="*", type=int, help="step indices (default: all 17)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true", help="eager only (torch.compile takes minutes)")
    parser.add_argument("--device", help="default: cuda if available")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    table = throughput_study(args.steps, batch_size=args.batch_size, image_size=args.image_size,
                             repeats=args.repeats, compile=not args.no_compile, device=args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
