"""One job's work, model in hand: decode → fine-tune → segment → render every output into a folder.

No HTTP and no queue here: the worker (job_runner.py) calls :func:`run_pipeline` with a warm model, a progress
callback and a cancel predicate, then publishes the folder. All model work goes through the ``osvos``
façade (``finetune`` / ``segment``); all drawing through ``osvos.render``.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np

from osvos import render
from osvos.budget import DEFAULT_DREAMS, DEFAULT_SNAP, DEFAULT_STEPS, DEFAULT_THRESHOLD, Budget
from osvos.cancel import Cancelled
from osvos.masks import read_masks_zip, write_masks_zip
from osvos.video import VideoInfo, read_frames, write_video

from .contract import OUTPUTS
from .frames import frames_at

Report = Callable[[str, float, "float | None"], None]
"""report(stage, fraction of that stage done, the model's own ETA of that stage in seconds or None)."""


@dataclass(frozen=True)
class JobParams:
    budget: float | None = None
    """Fine-tuning seconds: a cap on ``iterations``, or alone the whole budget."""
    iterations: int | None = DEFAULT_STEPS
    """Fine-tuning steps."""
    snap: bool = DEFAULT_SNAP
    threshold: float = DEFAULT_THRESHOLD
    dreams: int = DEFAULT_DREAMS
    """Synthetic later frames per annotated frame that fine-tuning trains on as well (``OSVOS.finetune``)."""

    @property
    def finetune_budget(self) -> Budget:
        """What ``OSVOS.finetune`` takes: the steps, the seconds, or both (whichever is reached first)."""
        return Budget(seconds=None if self.budget is None else float(self.budget),
                      iterations=None if self.iterations is None else int(self.iterations))

    def as_dict(self) -> dict:
        """The record's (and the content id's) parameters; ``dreams`` only when there are some, so the ids of
        jobs stored before it existed stay the same."""
        stored = {"budget": self.budget, "iterations": self.iterations, "snap": bool(self.snap),
                  "threshold": float(self.threshold)}
        return {**stored, "dreams": int(self.dreams)} if self.dreams else stored

    @classmethod
    def from_dict(cls, stored: dict | None, default_steps: int) -> "JobParams":
        """The parameters a job record holds (``as_dict``); ``default_steps`` when it names no budget, no dreams
        when it names none (``as_dict`` leaves out 0)."""
        fields = ("budget", "iterations", "snap", "threshold", "dreams")
        known = {k: v for k, v in (stored or {}).items() if k in fields}
        params = cls(**{"iterations": None, "dreams": 0, **known})
        if params.iterations is None and params.budget is None:
            params = replace(params, iterations=default_steps)
        return params


def run_pipeline(model, *, video: Path, annotations: Mapping[int, np.ndarray], info: VideoInfo, params: JobParams,
                 out_dir: Path, report: Report, cancel: Callable[[], bool]) -> dict:
    """Fine-tune ``model`` on the annotated frames (frame index → mask), segment every frame (the annotated ones
    come out as annotated) and write all of :data:`OUTPUTS` into ``out_dir``. Raises ``osvos.cancel.Cancelled``
    when ``cancel()`` turns true.

    Returns a summary: frames written, per-stage seconds.
    """
    def check():
        if cancel():
            raise Cancelled()

    timings = {}
    started = time.monotonic()
    report("decoding", 0.0, None)
    frames = frames_at(video, info, sorted(annotations))
    for index, frame in frames.items():
        mask = annotations[index]
        if mask.shape != frame.shape[:2]:
            raise ValueError(f"the mask of frame {index} is {mask.shape[1]}x{mask.shape[0]} but the video is "
                             f"{frame.shape[1]}x{frame.shape[0]}")
    report("decoding", 1.0, 0.0)
    check()
    timings["decoding"] = time.monotonic() - started

    started = time.monotonic()
    report("finetuning", 0.0, None)
    order = sorted(annotations)
    tuned = model.finetune([frames[i] for i in order], [annotations[i] for i in order], params.finetune_budget,
                           dreams=params.dreams, cancel=cancel,
                           progress=lambda fraction, eta=None: report("finetuning", float(fraction), eta))
    tuned = model if tuned is None else tuned
    check()
    timings["finetuning"] = time.monotonic() - started

    started = time.monotonic()
    report("segmenting", 0.0, None)
    trajectory = render.Trajectory(info.fps)
    masks_zip = out_dir / "masks.zip"

    def segmented() -> Iterator[np.ndarray]:
        stream = tuned.segment(read_frames(video, info), snap=params.snap, threshold=params.threshold,
                               cancel=cancel, annotations=annotations)
        try:
            for index, predicted in enumerate(stream):
                predicted = np.asarray(predicted, bool)
                if predicted.shape != (info.height, info.width):
                    raise RuntimeError(f"the model returned a {predicted.shape} mask for a "
                                       f"{info.height}x{info.width} frame")
                trajectory.add(predicted)
                yield predicted
                report("segmenting", min(1.0, (index + 1) / info.frames), None)
                check()
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    count = write_masks_zip(segmented(), masks_zip)
    if count != info.frames:
        raise RuntimeError(f"segmentation gave {count} masks for {info.frames} frames")
    table = trajectory.table()
    (out_dir / "trajectory.csv").write_text(render.trajectory_csv(table))
    timings["segmenting"] = time.monotonic() - started

    started = time.monotonic()
    report("rendering", 0.0, None)
    areas = table["area_px"].to_numpy()
    middle = info.frames // 2
    thumb_index = middle if areas[middle] > 0 else int(np.argmax(areas))
    written = _render_videos(video, info, masks_zip, out_dir, thumb_index, report, check)
    if written != info.frames:
        raise RuntimeError(f"rendered {written} frames for {info.frames}")
    timings["rendering"] = time.monotonic() - started
    missing = [name for name in OUTPUTS if not (out_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"outputs missing after rendering: {', '.join(missing)}")
    return {"frames": count, "timings": timings}


def _render_videos(video: Path, info: VideoInfo, masks_zip: Path, out_dir: Path, thumb_index: int,
                   report: Report, check: Callable[[], None]) -> int:
    """Decode once, fan each (frame, mask, overlay) out to three encoders running side by side."""
    fps = info.fps
    sinks = [
        lambda items: write_video((item[2] for item in items), out_dir / "overlay.mp4", fps),
        lambda items: write_video((render.side_by_side(item[0], item[2]) for item in items),
                                  out_dir / "side_by_side.mp4", fps),
        lambda items: write_video((render.cutout(item[0], item[1]) for item in items),
                                  out_dir / "cutout.webm", fps, alpha=True),
    ]

    def items():
        for index, (frame, mask) in enumerate(zip(read_frames(video, info), read_masks_zip(masks_zip, info.frames))):
            tinted = render.overlay(frame, mask)
            if index == thumb_index:
                (out_dir / "thumbnail.jpg").write_bytes(render.jpeg_bytes(render.thumbnail(tinted, 320)))
            yield frame, mask, tinted
            report("rendering", min(0.98, (index + 1) / info.frames), None)  # encoders still flush
            check()

    return fan_out(items(), sinks)


_END = object()
_ABORT = object()


class _Aborted(Exception):
    pass


def fan_out(items: Iterable, sinks: list[Callable[[Iterator], object]], depth: int = 4) -> int:
    """Feed every item to each sink (each a function consuming an iterator) running in its own thread.

    Returns the number of items. If a sink fails, or the producer raises, every sink is stopped and the
    first error is raised here.
    """
    queues = [queue.Queue(depth) for _ in sinks]
    errors: list[BaseException] = []

    def feed(q: queue.Queue) -> Iterator:
        while True:
            item = q.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _Aborted()
            yield item

    def run(sink, q):
        try:
            sink(feed(q))
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the producer
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sink, q), daemon=True, name=f"render-{i}")
               for i, (sink, q) in enumerate(zip(sinks, queues))]
    for thread in threads:
        thread.start()

    def put(q: queue.Queue, thread: threading.Thread, item) -> None:
        while True:
            if errors:
                raise errors[0]
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                if not thread.is_alive():
                    raise RuntimeError("an encoder stopped before the end of the video") from None

    count = 0
    try:
        for item in items:
            for q, thread in zip(queues, threads):
                put(q, thread, item)
            count += 1
        for q, thread in zip(queues, threads):
            put(q, thread, _END)
    except BaseException:
        for q in queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            q.put_nowait(_ABORT)
        for thread in threads:
            thread.join(timeout=60)
        raise
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return count
