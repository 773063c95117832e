"""Train the OSVOS parent network on DAVIS (runs for hours on CPU; resumable)."""
from __future__ import annotations

import argparse

from osvos.train import TrainConfig, train_parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, log.csv, parent.weights.h5)")
    parser.add_argument("--iters", type=int, default=TrainConfig.iters)
    parser.add_argument("--size", default="240x432", help="crop HxW")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed,
                        help="data order and crops; give each chained run (--init) its own, "
                             "or it repeats the last one's")
    parser.add_argument("--init", help="start from these weights (e.g. an earlier parent) instead of the HED init")
    parser.add_argument("--train-low-blocks", action="store_true", help="also train conv1-conv3 (frozen by default)")
    parser.add_argument("--load-threads", type=int, default=TrainConfig.load_threads,
                        help="threads decoding and augmenting a batch")
    parser.add_argument("--stills", help="folder of still photos with masks to mix in (DUTS-TR layout: list.txt, "
                        "Images/, Masks/), e.g. ../shared/duts-tr")
    parser.add_argument("--still-fraction", type=float, default=TrainConfig.still_fraction,
                        help="share of each batch that is stills (with --stills)")
    parser.add_argument("--schedule", choices=("constant", "cosine"), default=TrainConfig.schedule,
                        help="learning rate over the run: constant, or cosine decay from --lr to 0 at --iters")
    parser.add_argument("--side-weights", default=",".join(f"{w:g}" for w in TrainConfig.side_weights),
                        help="side-output loss weight in each third of the run (0,0,0: the fused output only)")
    parser.add_argument("--video-rotation", type=float, default=TrainConfig.video_rotation,
                        help="turn DAVIS frames by up to this many degrees either way (default 0: none)")
    parser.add_argument("--video-jitter", action="store_true", help="colour-jitter DAVIS frames as stills are")
    parser.add_argument("--video-swap", type=float, default=TrainConfig.video_swap,
                        help="share of DAVIS frames whose object is put on another training video's frame, that "
                        "video's object inpainted away (default 0: none)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.lower().split("x"))
    side_weights = tuple(float(v) for v in args.side_weights.split(","))
    if len(side_weights) != 3:
        parser.error("--side-weights takes three numbers, one per third of the run")
    if not 0.0 <= args.video_swap <= 1.0:
        parser.error("--video-swap is a share: from 0 to 1")
    config = TrainConfig(davis=args.davis, split=args.split, iters=args.iters, size=(height, width),
                         batch=args.batch, lr=args.lr, checkpoint_every=args.checkpoint_every, seed=args.seed,
                         init=args.init, train_low=args.train_low_blocks, load_threads=args.load_threads,
                         stills=args.stills, still_fraction=args.still_fraction, schedule=args.schedule,
                         side_weights=side_weights, video_rotation=args.video_rotation,
                         video_jitter=args.video_jitter, video_swap=args.video_swap)
    print(train_parent(config, args.out, resume=args.resume))


if __name__ == "__main__":
    main()
