"""The façade scripts, services and tests use: ``OSVOS.load(path).finetune(frame, mask, budget).segment(frames)``."""
from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from .budget import (
    DEFAULT_BUDGET,
    DEFAULT_SNAP,
    DEFAULT_THRESHOLD,
    DEFAULT_WORK_SIZE,
    MAX_DREAMS,
    SEGMENT_BATCH,
    Budget,
)
from .cancel import Cancel, Cancelled
from .finetune import FinetuneRecipe, Progress, finetune
from .masks import resize_mask
from .model import build_networks, hed_weights_path, init_from_hed, preprocess
from .precision import building_in, choose_precision
from .weights import SHIPPED_WEIGHTS, default_weights

__all__ = ["OSVOS", "Cancelled", "DEFAULT_BUDGET", "SHIPPED_WEIGHTS"]


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
                 recipe: FinetuneRecipe = FinetuneRecipe(), precision: str = "float32"):
        self.precision = precision
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
        self.work_size = work_size
        self.recipe = recipe
        self._parent = self.nets.full.get_weights()
        self._contours = None
        self._parent_copy = None
        self.last_finetune: dict = {}

    @classmethod
    def load(cls, weights: str | Path | None = None, *, work_size: int | None = DEFAULT_WORK_SIZE,
             recipe: FinetuneRecipe = FinetuneRecipe(), precision: str | None = None) -> "OSVOS":
        """Load parent weights (default: ``osvos.weights.default_weights()``: ``OSVOS_WEIGHTS``, else the
        checkout's models/osvos_parent.weights.h5, else the HED-initialised network).

        ``work_size`` caps the longest side the network runs at (0 or None = full resolution); masks always come
        back at the input resolution. ``recipe``: optimiser and scales of the online fine-tuning. ``precision``:
        ``auto`` (bfloat16 on CPUs with native bf16, else float32), ``float32`` or ``bfloat16``; None reads
        ``OSVOS_PRECISION`` (default auto). bfloat16 is part of ``version``: its masks differ from float32's.
        """
        if weights is None:
            weights = default_weights()
        if weights is not None and not Path(weights).is_file():
            raise FileNotFoundError(f"weights not found: {weights}")
        return cls(Path(weights) if weights is not None else None, work_size=work_size, recipe=recipe,
                   precision=choose_precision(precision))

    def _work_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The (width, height) a frame of this size runs at, or None when it runs as it is."""
        if not self.work_size or max(height, width) <= self.work_size:
            return None
        scale = self.work_size / max(height, width)
        return max(16, round(width * scale)), max(16, round(height * scale))

    def _to_work(self, frame: np.ndarray) -> np.ndarray:
        size = self._work_size(*frame.shape[:2])
        return frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def _mask_to_work(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` at the working size of its frame, on top of the frame's ``_to_work``."""
        size = self._work_size(*mask.shape)
        return mask if size is None else resize_mask(mask, size)

    def reset(self) -> "OSVOS":
        """Return to the parent weights (undo fine-tuning)."""
        self.nets.full.set_weights(self._parent)
        self.last_finetune = {}
        return self

    def finetune(self, frame: np.ndarray | Sequence[np.ndarray], mask: np.ndarray | Sequence[np.ndarray],
                 budget: Budget | float | int = DEFAULT_BUDGET, *, dreams: int | None = None,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> "OSVOS":
        """Fine-tune on an annotated frame (RGB uint8) and its boolean mask, or on lists of several, starting from
        the parent weights; the steps take turns between the annotated frames.

        ``budget``: iterations (int; the default is ``DEFAULT_STEPS``), seconds (float: as many steps as fit, so
        the result depends on the machine) or a ``Budget`` with both. ``dreams``: synthetic later frames made from
        each annotated one to train on as well (``osvos.dreams``; None: the recipe's, 0 by default).
        ``progress(fraction, eta_s)`` is called between steps; ``cancel()`` returning True raises ``Cancelled``.
        Returns self.
        """
        frames = [frame] if isinstance(frame, np.ndarray) else list(frame)
        masks = [mask] if isinstance(mask, np.ndarray) else list(mask)
        if len(frames) != len(masks) or not frames:
            raise ValueError(f"{len(frames)} frames and {len(masks)} masks: give one mask per annotated frame")
        for one, label in zip(frames, masks):
            if one.shape[:2] != label.shape:
                raise ValueError(f"mask {label.shape} and frame {one.shape[:2]} differ in size")
        if dreams is not None and not 0 <= dreams <= MAX_DREAMS:
            raise ValueError(f"dreams must be between 0 and {MAX_DREAMS}: {dreams}")
        recipe = self.recipe if dreams is None else replace(self.recipe, dreams=int(dreams))
        self.reset()
        examples = [(self._to_work(one), self._mask_to_work(label)) for one, label in zip(frames, masks)]
        self.last_finetune = finetune(self.nets, examples, Budget.of(budget), recipe, progress, cancel)
        return self

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Foreground probability per pixel (float32, input resolution) for one RGB frame."""
        return self._batch_probabilities([frame])[0]

    def _batch_probabilities(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """``probabilities`` of same-sized frames in one forward pass (a batch is faster per frame on CPU)."""
        x = np.stack([preprocess(self._to_work(frame)) for frame in frames])
        logits = np.asarray(self.nets.segmenter.predict_on_batch(x))[..., 0]
        return [self._to_probability(one, frame.shape[:2]) for one, frame in zip(logits, frames)]

    def _to_probability(self, logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        prob = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float32), -80.0, 80.0)))
        if prob.shape != size:
            prob = cv2.resize(prob, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        return prob

    def _hed(self):
        """HED on top of our conv1–conv3 when they are HED's (one trunk pass for both), else the whole HED."""
        if self._contours is None:
            from .contour import build_hed, build_hed_head, shares_hed_trunk
            self._contours = build_hed_head() if shares_hed_trunk(self.nets.full) else build_hed()
        return self._contours

    def contours(self, frame: np.ndarray) -> np.ndarray:
        """HED contour strength in [0, 1] at the working resolution."""
        return self._hed_contours(preprocess(self._to_work(frame))[None])

    def _hed_contours(self, x: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        """``contours`` of a preprocessed one-frame batch; ``features``: its conv1–conv3 when already computed
        (used only when HED shares them; otherwise the whole HED runs on ``x``)."""
        hed = self._hed()
        if len(hed.inputs) == 1:
            return np.asarray(hed.predict_on_batch(x))[0, ..., 0]
        if features is None:
            features = list(self.nets.features.predict_on_batch(x))
        return np.asarray(hed.predict_on_batch(features))[0, ..., 0]

    def analyse(self, frame: np.ndarray, *, parent: bool = False) -> dict[str, np.ndarray]:
        """One pass of conv1–conv3, several heads: ``probability`` (this network; input resolution),
        ``contours`` (HED, working resolution) and, with ``parent``, ``parent_probability`` (the parent
        network's, as before fine-tuning) — what snapping and the model card's ablation need."""
        x = preprocess(self._to_work(frame))[None]
        height, width = x.shape[1:3]
        conv1, conv2, conv3 = self.nets.features.predict_on_batch(x)
        heads = {"probability": self.nets.head}
        if parent:  # fine-tuning leaves conv1–conv3 as the parent's, so its head reads the same features
            heads["parent_probability"] = self._parent_nets().head
        out = {key: self._to_probability(np.asarray(head.predict_on_batch([conv2, conv3]))[0, :height, :width, 0],
                                         frame.shape[:2]) for key, head in heads.items()}
        out["contours"] = self._hed_contours(x, [conv1, conv2, conv3])
        return out

    def _parent_nets(self):
        if self._parent_copy is None:
            with building_in(self.precision):
                self._parent_copy = build_networks()
            self._parent_copy.full.set_weights(self._parent)
        return self._parent_copy

    def snap(self, frame: np.ndarray, probability: np.ndarray, contours: np.ndarray | None = None,
             threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Boundary snapping of ``probability > threshold`` to the HED-contour superpixels of ``frame`` (>50 % rule),
        where the network is unsure (``contour.snap_unsure``); ``contours``: this frame's
        ``analyse(frame)["contours"]`` when already computed."""
        return self.snapper(frame, contours)(probability, threshold)

    def snapper(self, frame: np.ndarray, contours: np.ndarray | None = None
                ) -> Callable[[np.ndarray, float], np.ndarray]:
        """``snap`` for several probability maps or thresholds of one frame: its superpixels are computed once,
        here, at the working size, and brought to the frame's size."""
        from .contour import resize_labels, snap_unsure, superpixels

        labels = superpixels(self.contours(frame) if contours is None else contours)
        labels = resize_labels(labels, (frame.shape[1], frame.shape[0]))

        def snap_probability(probability: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
            return snap_unsure(probability, labels, threshold)

        return snap_probability

    def segment(self, frames: Iterable[np.ndarray], *, snap: bool = DEFAULT_SNAP, threshold: float = DEFAULT_THRESHOLD,
                progress: Callable[[int], None] | None = None, cancel: Cancel | None = None,
                batch: int = SEGMENT_BATCH, annotations: Mapping[int, np.ndarray] | None = None
                ) -> Iterator[np.ndarray]:
        """Yield one boolean mask per RGB frame, at the frame's size; frames are decoded ahead on a thread and
        run through the network ``batch`` at a time (consecutive frames of one size).

        ``snap`` aligns the mask to contour superpixels (>50 % rule) where the network is unsure;
        ``progress(n)`` gets the count done;
        ``annotations`` maps frame positions to masks that come out exactly as given (the annotated frames).
        """
        annotations = annotations or {}
        count = 0
        for group in _same_size_groups(_prefetch(frames), 1 if snap else batch):
            if cancel is not None and cancel():
                raise Cancelled("segmentation was cancelled")
            if snap:
                views = self.analyse(group[0])
                masks = [self.snap(group[0], views["probability"], views["contours"], threshold)]
            else:
                masks = [prob > threshold for prob in self._batch_probabilities(group)]
            for mask in masks:
                given = annotations.get(count)
                count += 1
                if progress is not None:
                    progress(count)
                yield mask if given is None else np.asarray(given, dtype=bool)
