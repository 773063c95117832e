"""Pack a DAVIS split into a few MB (H.264 frames, bit-packed masks) to carry it to a GPU machine; unpack it there.

    python scripts/pack_davis.py pack --davis ../shared/davis2016 --split train --out gpu/davis-train
    python scripts/pack_davis.py unpack --packed gpu/davis-train --split train --out /tmp/davis
"""
from __future__ import annotations

import argparse

from osvos.davis_pack import pack_split, unpack_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    pack = verbs.add_parser("pack", help="DAVIS folder → videos + packed masks")
    pack.add_argument("--davis", default="../shared/davis2016")
    pack.add_argument("--split", default="train")
    pack.add_argument("--crf", type=int, default=25, help="x264 quality (lower: larger and closer to the JPEGs)")
    pack.add_argument("--out", required=True)
    unpack = verbs.add_parser("unpack", help="videos + packed masks → DAVIS folder (needs only OpenCV)")
    unpack.add_argument("--packed", required=True)
    unpack.add_argument("--split", default="train")
    unpack.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.verb == "pack":
        names = pack_split(args.davis, args.split, args.out, crf=args.crf)
    else:
        names = unpack_split(args.packed, args.split, args.out)
    print(f"{args.verb}ed {len(names)} sequences into {args.out}")


if __name__ == "__main__":
    main()
