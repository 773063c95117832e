"""The façade scripts, services and tests use: ``OSVOS.load(path).finetune(frame, mask, budget).segment(frames)``."""
from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import cv2
import numpy as np

from .budget import (
    DEFAULT_BUDGET,
    DEFAULT_CRF,
    DEFAULT_SNAP,
    DEFAULT_THRESHOLD,
    DEFAULT_VIEWS,
    DEFAULT_WORK_SIZE,
    FLOW_WEIGHT,
    MIN_REGION,
    SEGMENT_BATCH,
    SEGMENT_SCALE,
    Budget,
    check_dreams,
)
from .cancel import Cancel, Cancelled
from .crf import COLOUR_SPREAD, COLOUR_WEIGHT, COLOUR_WEIGHTS, choose_colour_weight, crf_mask
from .finetune import FinetuneRecipe, Progress, finetune
from .masks import resize_mask
from .model import build_networks, hed_weights_path, init_from_hed, preprocess
from .precision import building_in, choose_precision
from .regions import checked_fraction, drop_small_regions
from .temporal import FlowPrior, checked_weight
from .views import ScaleTracker, view_plan
from .weights import SHIPPED_WEIGHTS, default_weights

__all__ = ["OSVOS", "Cancelled", "DEFAULT_BUDGET", "SHIPPED_WEIGHTS", "SegmentedFrame"]


class SegmentedFrame(NamedTuple):
    """One frame as ``OSVOS.segment_probabilities`` gives it: the foreground ``probability`` (input resolution),
    its ``mask`` as given out (``probability > threshold``, snapped when asked for; the dense CRF's with the model's
    ``crf``; without detached regions below the model's ``min_region``; or the given mask where ``annotated``),
    when asked for, the parent network's probability, and where the network's mask was snapped, the frame's
    ``OSVOS.snapper`` (to snap at other thresholds without computing its superpixels again)."""

    frame: np.ndarray
    probability: np.ndarray
    mask: np.ndarray
    annotated: bool
    parent_probability: np.ndarray | None
    snapper: Callable[[np.ndarray, float], np.ndarray] | None = None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _same_size_groups(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """Consecutive frames in lists of up to ``size``; a frame of another shape starts a new list."""
    group: list[np.ndarray] = []
    for frame in frames:
        if group and (len(group) == size or frame.shape != group[0].shape):
            yield group
            group = []
        group.append(frame)
    if group:
        yield group


def _prefetch(frames: Iterable[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """Decode the next frames on a thread while the network works on the current one.

    When the consumer stops early (cancel, error), the thread stops too and closes ``frames`` (which ends
    an ffmpeg decoder).
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()
    failure: list[BaseException] = []

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fill():
        source = iter(frames)
        try:
            for frame in source:
                if not offer(frame):
                    break
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            failure.append(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            offer(end)

    worker = threading.Thread(target=fill, daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not end:
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join(timeout=5)


class OSVOS:
    """A parent network, fine-tunable on one annotated frame, that segments the rest of the video."""

    def __init__(self, weights: Path | None, *, work_size: int | None = None,
                 recipe: FinetuneRecipe = FinetuneRecipe(), precision: str = "float32", views: int = 1,
                 segment_scale: float = 1.0, flow_weight: float = 0.0, crf: bool = False, min_region: float = 0.0):
        self.precision = precision
        view_plan(views, segment_scale)
        self.flow_weight = checked_weight(flow_weight)
        self.view_count, self.segment_scale = views, float(segment_scale)
        self.crf = bool(crf)
        self.min_region = checked_fraction(min_region)
        with building_in(precision):
            self.nets = build_networks()
        if weights is None:
            init_from_hed(self.nets.full)
            self.version = "hed-init-" + _digest(hed_weights_path())
        else:
            self.nets.full.load_weights(weights)
            self.version = Path(weights).stem.split(".")[0] + "-" + _digest(Path(weights))
        if precision != "float32":
            self.version += f"-{precision}"
        if recipe.train_conv3:
            self.version += "-ftconv3"
        if recipe.adapt_steps:
            self.version += f"-adapt{recipe.adapt_steps}far{recipe.adapt_far:g}"
            if recipe.adapt_growth:
                self.version += f"grow{recipe.adapt_growth:g}"
        if segment_scale != 1.0:
            self.version += f"-seg{segment_scale:g}"
        if views != 1:
            self.version += f"-views{views}"
        if flow_weight:
            self.version += f"-flow{flow_weight:g}"
        if flow_weight or segment_scale != 1.0:
            self.version += "-snapcarried"
        if crf:
            self.version += f"-crfrgb{COLOUR_SPREAD:g}w{'-'.join(f'{w:g}' for w in COLOUR_WEIGHTS)}"
        if min_region:
            self.version += f"-region{min_region:g}"
        self.work_size = work_size
        self.recipe = recipe
        self._parent = self.nets.full.get_weights()
        self._contours = None
        self._parent_copy = None
        self._adapting_copy = None
        self._examples: list[tuple[np.ndarray, np.ndarray]] = []
        self.last_finetune: dict = {}

    @classmethod
    def load(cls, weights: str | Path | None = None, *, work_size: int | None = DEFAULT_WORK_SIZE,
             recipe: FinetuneRecipe = FinetuneRecipe(), precision: str | None = None,
             views: int = DEFAULT_VIEWS, segment_scale: float = SEGMENT_SCALE,
             flow_weight: float = FLOW_WEIGHT, crf: bool = DEFAULT_CRF, min_region: float = MIN_REGION) -> "OSVOS":
        """Load parent weights (default: ``osvos.weights.default_weights()``: ``OSVOS_WEIGHTS``, else the
        checkout's models/osvos_parent.weights.h5, else the HED-initialised network).

        ``work_size`` caps the longest side the network runs at (0 or None = full resolution); masks always come
        back at the input resolution. ``recipe``: optimiser, scales and layers of the online fine-tuning (training
        conv3 is ``-ftconv3`` in ``version``). ``precision``:
        ``auto`` (bfloat16 on CPUs with native bf16, else float32), ``float32`` or ``bfloat16``; None reads
        ``OSVOS_PRECISION`` (default auto). bfloat16 is part of ``version``: its masks differ from float32's.
        ``segment_scale``: frames are segmented at up to this × ``work_size`` (fine-tuning runs at ``work_size``;
        ``osvos.views.ScaleTracker`` lowers it as the object grows); ``views``: 1, or 2 to average with the
        mirror image (``osvos.views.view_plan``). Both are part of ``version`` when not 1. ``flow_weight``: weight of
        the previous mask, carried by optical flow, in each frame's probability (``osvos.temporal.FlowPrior``; 0 =
        each frame on its own); part of ``version`` when not 0. With either, each frame's mask depends on the
        last one, which is the snapped mask when snapping (``segment_probabilities``): ``-snapcarried`` in
        ``version`` tells these masks from those of versions that carried the unsnapped one. ``crf``: the masks
        given out come from a dense CRF on each frame and its probability (``osvos.crf``), in place of the
        (snapped) mask, which is still the one carried, its colour weight chosen on the annotated frames by
        ``finetune``; ``-crfrgb<colour width>w<weights tried>`` in ``version``. ``min_region``:
        the masks given out lose their detached regions smaller than this × the largest one's area
        (``osvos.regions``; 0 keeps them; not the mask carried); ``-region<fraction>`` in ``version``.
        """
        if weights is None:
            weights = default_weights()
        if weights is not None and not Path(weights).is_file():
            raise FileNotFoundError(f"weights not found: {weights}")
        return cls(Path(weights) if weights is not None else None, work_size=work_size, recipe=recipe,
                   precision=choose_precision(precision), views=views, segment_scale=segment_scale,
                   flow_weight=flow_weight, crf=crf, min_region=min_region)

    def _work_size(self, height: int, width: int, scale: float = 1.0) -> tuple[int, int] | None:
        """The (width, height) a frame of this size runs at (``scale`` × the working size), or None when it runs
        as it is."""
        longest = max(height, width)
        target = (min(self.work_size, longest) if self.work_size else longest) * scale
        if round(target) == longest:
            return None
        ratio = target / longest
        return max(16, round(width * ratio)), max(16, round(height * ratio))

    def _to_work(self, frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
        size = self._work_size(*frame.shape[:2], scale)
        if size is None:
            return frame
        shrink = size[0] < frame.shape[1]
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def _mask_to_work(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` at the working size of its frame, on top of the frame's ``_to_work``."""
        size = self._work_size(*mask.shape)
        return mask if size is None else resize_mask(mask, size)

    def reset(self) -> "OSVOS":
        """Return to the parent weights (undo fine-tuning)."""
        self.nets.full.set_weights(self._parent)
        self.last_finetune = {}
        self._examples = []
        return self

    def finetune(self, frame: np.ndarray | Sequence[np.ndarray], mask: np.ndarray | Sequence[np.ndarray],
                 budget: Budget | float | int = DEFAULT_BUDGET, *, dreams: int | None = None,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> "OSVOS":
        """Fine-tune on an annotated frame (RGB uint8) and its boolean mask, or on lists of several, starting from
        the parent weights; the steps take turns between the annotated frames.

        ``budget``: iterations (int; the default is ``DEFAULT_STEPS``), seconds (float: as many steps as fit, so
        the result depends on the machine) or a ``Budget`` with both. ``dreams``: synthetic later frames made from
        each annotated one to train on as well (``osvos.dreams``; None: the recipe's, ``DEFAULT_DREAMS`` by default).
        ``progress(fraction, eta_s)`` is called between steps; ``cancel()`` returning True raises ``Cancelled``.
        With the model's ``crf``, the CRF's colour weight for the masks given out is then chosen on the annotated
        frames (``last_finetune["crf_colour_weight"]``). Returns self.
        """
        frames = [frame] if isinstance(frame, np.ndarray) else list(frame)
        masks = [mask] if isinstance(mask, np.ndarray) else list(mask)
        if len(frames) != len(masks) or not frames:
            raise ValueError(f"{len(frames)} frames and {len(masks)} masks: give one mask per annotated frame")
        for one, label in zip(frames, masks):
            if one.shape[:2] != label.shape:
                raise ValueError(f"mask {label.shape} and frame {one.shape[:2]} differ in size")
        if dreams is not None:
            check_dreams(dreams)
        recipe = self.recipe if dreams is None else replace(self.recipe, dreams=int(dreams))
        self.reset()
        examples = [(self._to_work(one), self._mask_to_work(label)) for one, label in zip(frames, masks)]
        self.last_finetune = finetune(self.nets, examples, Budget.of(budget), recipe, progress, cancel)
        self.last_finetune["object_area"] = float(np.mean(masks[0]))
        self._examples = examples
        if self.crf:
            self.last_finetune["crf_colour_weight"] = self._choose_colour_weight(frames, masks)
        return self

    def _choose_colour_weight(self, frames: list[np.ndarray], masks: list[np.ndarray]) -> float:
        """The CRF's colour weight for this video (``osvos.crf.choose_colour_weight``), from the fine-tuned
        network's probability on each annotated frame, segmented as ``segment_probabilities`` segments a first
        frame."""
        scale = self.scale_tracker().scale()
        annotated = [(frame, self._batch_probabilities([frame], None, scale)[0], mask)
                     for frame, mask in zip(frames, masks)]
        return choose_colour_weight(annotated, DEFAULT_THRESHOLD, self.min_region)

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Foreground probability per pixel (float32, input resolution) for one RGB frame, segmented at
        ``segment_scale`` × the working size."""
        return self._batch_probabilities([frame])[0]

    def scale_tracker(self) -> ScaleTracker:
        """The scale to segment the next frames of this video at, from the fine-tuned object's size."""
        return ScaleTracker(self.segment_scale, self.last_finetune.get("object_area"))

    def _batch_probabilities(self, frames: list[np.ndarray], segmenter=None, scale: float | None = None
                             ) -> list[np.ndarray]:
        """``probabilities`` of same-sized frames (``segmenter``: this network's by default), one forward pass
        per view (a batch is faster per frame on CPU), mapped back onto the frames and averaged."""
        segmenter = segmenter or self.nets.segmenter
        views = view_plan(self.view_count, self.segment_scale if scale is None else scale)
        sums = [np.zeros(frame.shape[:2], np.float32) for frame in frames]
        for view in views:
            x = np.stack([preprocess(self._to_work(frame[:, ::-1] if view.mirrored else frame, view.scale))
                          for frame in frames])
            logits = np.asarray(segmenter.predict_on_batch(x))[..., 0]
            for total, one, frame in zip(sums, logits, frames):
                total += self._to_probability(one[:, ::-1] if view.mirrored else one, frame.shape[:2])
        return [total / len(views) for total in sums]

    def _to_probability(self, logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        prob = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float32), -80.0, 80.0)))
        if prob.shape != size:
            prob = cv2.resize(prob, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        return prob

    def _hed(self):
        """HED on top of our conv1–conv3 when they are HED's and fine-tuning leaves conv3 alone, else the whole HED;
        in the model's precision, as the network."""
        if self._contours is None:
            from .contour import build_hed, build_hed_head, shares_hed_trunk
            shared = not self.recipe.train_conv3 and shares_hed_trunk(self.nets.full)
            with building_in(self.precision):
                self._contours = build_hed_head() if shared else build_hed()
        return self._contours

    def contours(self, frame: np.ndarray) -> np.ndarray:
        """HED contour strength in [0, 1] at the working resolution."""
        x = preprocess(self._to_work(frame))[None]
        hed = self._hed()
        inputs = x if len(hed.inputs) == 1 else list(self.nets.features.predict_on_batch(x))
        return np.asarray(hed.predict_on_batch(inputs), dtype=np.float32)[0, ..., 0]

    def _parent_nets(self):
        if self._parent_copy is None:
            with building_in(self.precision):
                self._parent_copy = build_networks()
            self._parent_copy.full.set_weights(self._parent)
        return self._parent_copy

    def _adapting_nets(self):
        """A copy of the networks with this model's current (fine-tuned) weights, for online adaptation to change."""
        if self._adapting_copy is None:
            with building_in(self.precision):
                self._adapting_copy = build_networks()
        self._adapting_copy.full.set_weights(self.nets.full.get_weights())
        return self._adapting_copy

    def snap(self, frame: np.ndarray, probability: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Boundary snapping of ``probability > threshold`` to the HED-contour superpixels of ``frame`` (>50 % rule),
        where the network is unsure (``contour.snap_unsure``)."""
        return self.snapper(frame)(probability, threshold)

    def snapper(self, frame: np.ndarray) -> Callable[[np.ndarray, float], np.ndarray]:
        """``snap`` for several probability maps or thresholds of one frame: its superpixels are computed once,
        here, at the working size, and brought to the frame's size."""
        from .contour import resize_labels, snap_unsure, superpixels

        labels = resize_labels(superpixels(self.contours(frame)), (frame.shape[1], frame.shape[0]))

        def snap_probability(probability: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
            return snap_unsure(probability, labels, threshold)

        return snap_probability

    def segment(self, frames: Iterable[np.ndarray], *, snap: bool = DEFAULT_SNAP, threshold: float = DEFAULT_THRESHOLD,
                progress: Callable[[int], None] | None = None, cancel: Cancel | None = None,
                batch: int = SEGMENT_BATCH, annotations: Mapping[int, np.ndarray] | None = None
                ) -> Iterator[np.ndarray]:
        """Yield one boolean mask per RGB frame, at the frame's size (``segment_probabilities`` has how frames go
        through the network).

        ``snap`` aligns the mask to contour superpixels (>50 % rule) where the network is unsure (with the model's
        ``crf``, that is the mask carried to the next frame, and the mask given out is the dense CRF's);
        ``progress(n)`` gets the count done;
        ``annotations`` maps frame positions to masks that come out exactly as given (the annotated frames).
        """
        segmented = self.segment_probabilities(frames, snap=snap, threshold=threshold, cancel=cancel, batch=batch,
                                               annotations=annotations)
        for count, one in enumerate(segmented, 1):
            if progress is not None:
                progress(count)
            yield one.mask

    def segment_probabilities(self, frames: Iterable[np.ndarray], *, snap: bool = DEFAULT_SNAP,
                              threshold: float = DEFAULT_THRESHOLD, cancel: Cancel | None = None,
                              batch: int = SEGMENT_BATCH, annotations: Mapping[int, np.ndarray] | None = None,
                              parent: bool = False) -> Iterator[SegmentedFrame]:
        """Yield a ``SegmentedFrame`` per RGB frame: frames are decoded ahead on a thread and run through the
        network ``batch`` at a time (consecutive frames of one size), at the scale ``scale_tracker`` picks from the
        last mask before the batch. ``parent`` also runs the parent network (as before fine-tuning) over the same
        views: the model card's "parent only" row. Each probability is blended with the last mask carried by
        optical flow (``osvos.temporal.FlowPrior``, weight ``flow_weight``). The mask a frame ends with (snapped
        when ``snap``, or as annotated) is the one carried to the next frame and the one the scale is read from:
        an annotated frame passes its mask on, so give the first frame with its annotation to start from it.
        With ``crf``, the mask given out is the dense CRF's on the frame and that probability (``osvos.crf``; the
        colour weight ``finetune`` chose, else ``COLOUR_WEIGHT``); it is
        not the one carried (carried, the CRF's mistakes grew from frame to frame on DAVIS val: models/README.md).
        The mask given out then loses its detached regions smaller than ``min_region`` × its largest
        (``osvos.regions``); the carried one keeps them (dropping them there too measured the same on DAVIS val).
        With ``recipe.adapt_steps`` after fine-tuning, a copy of the fine-tuned network segments the frames and adapts
        to each batch's last frame before the next batch (``osvos.online``); the model itself stays as fine-tuned."""
        annotations = annotations or {}
        adapter = None
        if self.recipe.adapt_steps and self._examples:
            from .online import OnlineAdapter

            adapter = OnlineAdapter(self._adapting_nets(), self._examples, self.recipe, self._parent_nets)
        segmenter = None if adapter is None else adapter.nets.segmenter
        tracker = self.scale_tracker()
        prior = FlowPrior(self.flow_weight)
        colour_weight = self.last_finetune.get("crf_colour_weight", COLOUR_WEIGHT)
        count = 0
        for group in _same_size_groups(_prefetch(frames), batch):
            if cancel is not None and cancel():
                raise Cancelled("segmentation was cancelled")
            scale = tracker.scale()
            probabilities = self._batch_probabilities(group, segmenter, scale)
            parents = (self._batch_probabilities(group, self._parent_nets().segmenter, scale) if parent
                       else [None] * len(group))
            for frame, probability, parent_probability in zip(group, probabilities, parents):
                probability = prior.blend(frame, probability)
                given = annotations.get(count)
                snapper = self.snapper(frame) if snap and given is None else None
                if given is not None:
                    mask = np.asarray(given, dtype=bool)
                elif snapper is not None:
                    mask = snapper(probability, threshold)
                else:
                    mask = probability > threshold
                prior.remember(mask)
                tracker.update(mask)
                count += 1
                shown = mask
                if given is None:
                    shown = (crf_mask(frame, probability, threshold, colour_weight, self.min_region) if self.crf
                             else drop_small_regions(mask, self.min_region))
                yield SegmentedFrame(frame, probability, shown, given is not None, parent_probability, snapper)
            if adapter is not None and given is None:
                adapter.adapt(self._to_work(frame), self._mask_to_work(mask), self._to_work(probability))
