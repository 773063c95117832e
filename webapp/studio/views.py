"""Pages of the site. Everything about jobs comes from the API through ``api_client``; the database keeps
only the submissions (so an upload survives an API outage and can be re-sent)."""
from __future__ import annotations

import logging
import mimetypes
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from api_server.contract import OUTPUTS, TERMINAL

from . import media
from .api_client import ApiError, Upload, get_client
from .forms import UploadForm
from .models import Submission

if TYPE_CHECKING:
    from requests import Response

log = logging.getLogger(__name__)

FORWARDED_REQUEST_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since")
FORWARDED_RESPONSE_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified",
                              "Cache-Control", "Content-Encoding")
PAGE_SIZE = 24
QUICK_FINETUNING = {"iterations": 125, "dreams": 0}
"""What the upload form's "quick" box asks the API for: 125 steps without dreamed frames, a third of the default's
fine-tuning time (400 steps with 20 dreamed frames), J 1.9 and F 3.0 lower on the 12 DAVIS val sequences
(models/README.md)."""


# -- helpers ----------------------------------------------------------------------------------------------------
def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _submit(sub: Submission) -> None:
    """Hand a stored submission to the API; raises ApiError (the submission keeps the reason)."""
    client = get_client()
    video_name, mask_name = Path(sub.video.name).name, Path(sub.mask.name).name
    try:
        with sub.video.open("rb") as video, sub.mask.open("rb") as mask:
            result = client.submit(Upload(video_name, video, _content_type(video_name)),
                                   Upload(mask_name, mask, _content_type(mask_name)),
                                   name=sub.display_name, budget=sub.budget, snap=sub.snap,
                                   **(QUICK_FINETUNING if sub.quick else {}))
    except ApiError as exc:
        sub.submit_error = exc.detail
        sub.save(update_fields=["submit_error", "updated"])
        raise
    job_id = str(result.get("id") or "")
    if not job_id:
        sub.submit_error = "The processing service accepted the upload but returned no job id."
        sub.save(update_fields=["submit_error", "updated"])
        raise ApiError(502, "bad_response", sub.submit_error)
    sub.api_job_id = job_id
    sub.state = result.get("state") or "queued"
    sub.submit_error = ""
    sub.save()


def _job_or_none(job_id: str) -> tuple[dict | None, ApiError | None]:
    try:
        return get_client().job(job_id), None
    except ApiError as exc:
        return None, exc


def _sync(job_id: str, job: dict) -> None:
    for sub in Submission.objects.filter(api_job_id=job_id):
        sub.update_from_api(job)
        sub.save()


def _local_job(sub: Submission | None, job_id: str) -> dict:
    """A stand-in job document built from what the site stored (while the API is unreachable)."""
    if sub is None:
        return {"id": job_id, "state": "queued", "stage": "", "progress": 0.0, "name": job_id}
    return {"id": job_id, "name": sub.display_name, "state": sub.state if sub.state != Submission.UNSENT
            else "queued", "stage": sub.stage, "progress": sub.progress, "error": sub.error,
            "frames": sub.frames, "outputs": {}}


def _status_payload(job_id: str, job: dict) -> dict:
    state = job.get("state") or "queued"
    progress = job.get("progress") or 0.0
    try:
        progress = max(0.0, min(1.0, float(progress)))
    except (TypeError, ValueError):
        progress = 0.0
    return {
        "id": job_id,
        "name": job.get("name") or "",
        "state": state,
        "stage": job.get("stage") or "",
        "progress": progress,
        "eta_s": job.get("eta_s"),
        "error": job.get("error") or "",
        "frames": job.get("frames"),
        "final": state in TERMINAL,
        "preview_url": reverse("studio:preview", args=[job_id]) if state == "done" else None,
        "trajectory_url": reverse("studio:trajectory", args=[job_id]) if state == "done" else None,
        "api_down": False,
    }


def _output_url(job_id: str, name: str, download: bool = False) -> str:
    url = reverse("studio:output", args=[job_id, name])
    return url + "?download=1" if download else url


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def _list_jobs(limit: int, offset: int = 0, state: str = "done") -> tuple[list[dict], int | None, ApiError | None]:
    try:
        listing = get_client().jobs(limit=limit, offset=offset, state=state)
    except ApiError as exc:
        return [], None, exc
    jobs = [job for job in listing["jobs"] if isinstance(job, dict) and job.get("id")]
    for job in jobs:
        job["thumbnail_url"] = _output_url(job["id"], "thumbnail.jpg")
        job["has_thumbnail"] = "thumbnail.jpg" in (job.get("outputs") or {"thumbnail.jpg": 1})
    return jobs, listing["total"], None


# -- pages ------------------------------------------------------------------------------------------------------
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    jobs, _, error = _list_jobs(limit=6, state="done")
    recent = [job for job in jobs if job.get("state") == "done"]
    return render(request, "studio/home.html", {"recent": recent, "api_error": error})


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "studio/upload.html", {"form": UploadForm()})
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "studio/upload.html", {"form": form}, status=400)
    data = form.cleaned_data
    name = data["name"] or Path(data["video"].name).stem[:120]
    sub = Submission.objects.create(
        name=name, video=data["video"], mask=data["mask"], mask_drawn=data["mask_source"] == "drawn",
        budget=data["budget"], snap=data["snap"], quick=data["quick"],
        video_width=form.video_size[0] if form.video_size else None,
        video_height=form.video_size[1] if form.video_size else None)
    try:
        _submit(sub)
    except ApiError as exc:
        if exc.unavailable:
            messages.warning(request, "Your upload is saved on the site, but the processing service could not "
                                      "take it yet. Resubmit when it is back.")
            return redirect("studio:submission", pk=sub.pk)
        # The API refused the files: nothing to keep; show its reason on the form.
        sub.delete_files()
        sub.delete()
        form.add_error(None, f"The processing service refused this upload: {exc.detail}")
        return render(request, "studio/upload.html", {"form": form, "api_refused": exc},
                      status=exc.status or 400)
    messages.success(request, f"“{sub.display_name}” was queued.")
    return redirect("studio:job", job_id=sub.api_job_id)


@require_POST
def first_frame(request: HttpRequest) -> HttpResponse:
    """Decode the first frame of a posted video (for browsers that cannot decode it themselves, e.g. HEVC)."""
    video = request.FILES.get("video")
    if video is None:
        return JsonResponse({"error": "missing_video", "detail": "Post the video as the field 'video'."},
                            status=400)
    if video.size > settings.MAX_VIDEO_BYTES:
        return JsonResponse({"error": "too_large", "detail": "The video is larger than the upload limit."},
                            status=413)
    try:
        with media.local_path(video) as path:
            frame = media.first_frame(path)
    except media.MediaError as exc:
        return JsonResponse({"error": "unreadable_video", "detail": str(exc)}, status=400)
    response = HttpResponse(frame.png, content_type="image/png")
    response["X-Frame-Width"] = str(frame.width)
    response["X-Frame-Height"] = str(frame.height)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def submission(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_object_or_404(Submission, pk=pk)
    if sub.api_job_id:
        return redirect("studio:job", job_id=sub.api_job_id)
    return render(request, "studio/submission.html", {"sub": sub})


@require_POST
def resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_object_or_404(Submission, pk=pk)
    try:
        _submit(sub)
    except ApiError as exc:
        if exc.unavailable:
            messages.error(request, f"Still not sent: {exc.detail} Your upload remains saved.")
        else:
            messages.error(request, f"The processing service refused this upload: {exc.detail}")
        return redirect("studio:submission", pk=sub.pk)
    messages.success(request, f"“{sub.display_name}” was queued.")
    return redirect("studio:job", job_id=sub.api_job_id)


@require_POST
def delete_submission(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_object_or_404(Submission, pk=pk)
    if sub.api_job_id:
        return delete_job(request, sub.api_job_id)
    sub.delete_files()
    sub.delete()
    messages.success(request, "The saved upload was deleted.")
    return redirect(_safe_next(request, reverse("studio:gallery")))


@require_GET
def job(request: HttpRequest, job_id: str) -> HttpResponse:
    sub = Submission.objects.filter(api_job_id=job_id).first()
    data, error = _job_or_none(job_id)
    if error is not None:
        if error.status == 404:
            return render(request, "studio/missing.html", {"job_id": job_id, "sub": sub, "error": error},
                          status=404)
        if not error.unavailable:
            raise Http404(error.detail)
        data = _local_job(sub, job_id)
    else:
        _sync(job_id, data)
    status = _status_payload(job_id, data)
    status["api_down"] = error is not None
    return render(request, "studio/job.html", {
        "job": data, "job_id": job_id, "sub": sub, "status": status, "api_error": error,
        "status_url": reverse("studio:job_status", args=[job_id]), "history": _history(job_id, data)})


def _history(job_id: str, job: dict) -> list[dict]:
    """The job's annotated frames with their thumbnails, in frame order (none while the API is unreachable)."""
    frames = job.get("annotated_frames") or []
    return [{"frame": int(frame), "thumbnail_url": reverse("studio:annotation_thumbnail", args=[job_id, int(frame)])}
            for frame in frames if isinstance(frame, int)]


@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    data, error = _job_or_none(job_id)
    if error is not None:
        if error.status == 404:
            return JsonResponse({"error": error.code, "detail": error.detail}, status=404)
        sub = Submission.objects.filter(api_job_id=job_id).first()
        payload = _status_payload(job_id, _local_job(sub, job_id))
        payload.update(api_down=True, final=False, message=error.detail)
        return JsonResponse(payload)
    _sync(job_id, data)
    response = JsonResponse(_status_payload(job_id, data))
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def cancel(request: HttpRequest, job_id: str) -> HttpResponse:
    try:
        data = get_client().cancel(job_id)
        if isinstance(data, dict) and data.get("state"):
            _sync(job_id, data)
        messages.info(request, "Cancellation requested.")
    except ApiError as exc:
        messages.error(request, f"Could not cancel: {exc.detail}")
    return redirect("studio:job", job_id=job_id)


@require_POST
def delete_job(request: HttpRequest, job_id: str) -> HttpResponse:
    try:
        get_client().delete(job_id)
    except ApiError as exc:
        if exc.status != 404:
            messages.error(request, f"Could not delete: {exc.detail}")
            return redirect(_safe_next(request, reverse("studio:gallery")))
    for sub in Submission.objects.filter(api_job_id=job_id):
        sub.delete_files()
        sub.delete()
    messages.success(request, "The job and its files were deleted.")
    return redirect(_safe_next(request, reverse("studio:gallery")))


def _done_job_page(request: HttpRequest, job_id: str, template: str, extra: dict) -> HttpResponse:
    data, error = _job_or_none(job_id)
    if error is not None:
        if error.status == 404:
            sub = Submission.objects.filter(api_job_id=job_id).first()
            return render(request, "studio/missing.html", {"job_id": job_id, "sub": sub, "error": error},
                          status=404)
        if not error.unavailable:
            raise Http404(error.detail)
        return render(request, "studio/api_down.html", {"api_error": error, "job_id": job_id}, status=503)
    if data.get("state") != "done":
        messages.info(request, "The results are not ready yet.")
        return redirect("studio:job", job_id=job_id)
    _sync(job_id, data)
    outputs = data.get("outputs") or {}
    downloads = [{"name": name, "url": _output_url(job_id, name, download=True)}
                 for name in OUTPUTS if name in outputs or not outputs]
    context = {"job": data, "job_id": job_id, "downloads": downloads,
               "overlay_url": _output_url(job_id, "overlay.mp4"),
               "side_by_side_url": _output_url(job_id, "side_by_side.mp4"),
               "csv_url": _output_url(job_id, "trajectory.csv"),
               "thumbnail_url": _output_url(job_id, "thumbnail.jpg"),
               **extra}
    return render(request, template, context)


@require_GET
def preview(request: HttpRequest, job_id: str) -> HttpResponse:
    return _done_job_page(request, job_id, "studio/preview.html", {})


@require_GET
def trajectory(request: HttpRequest, job_id: str) -> HttpResponse:
    return _done_job_page(request, job_id, "studio/trajectory.html", {})


@require_GET
def correct(request: HttpRequest, job_id: str) -> HttpResponse:
    """The correction page: any frame with its predicted mask, to redraw and run again."""
    return _done_job_page(request, job_id, "studio/correct.html", {
        "corrections_url": reverse("studio:corrections", args=[job_id])})


def _json_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@require_POST
def corrections(request: HttpRequest, job_id: str) -> JsonResponse:
    """Hand the correction page's (frame, mask) pairs to the API; answers the new job's id and page (202), or the
    reason it was refused, as JSON."""
    frames, masks = request.POST.getlist("frame"), request.FILES.getlist("mask")
    if not masks or len(frames) != len(masks):
        return _json_error(400, "invalid_correction", "Send one frame number and one mask for each corrected frame.")
    try:
        indices = [int(frame) for frame in frames]
    except ValueError:
        return _json_error(400, "invalid_correction", "Frame numbers must be whole numbers.")
    if any(mask.size > settings.MAX_MASK_BYTES for mask in masks):
        return _json_error(413, "too_large", "A corrected mask is larger than the upload limit.")
    try:
        result = get_client().correct(job_id, [(index, Upload(f"frame-{index}.png", mask, "image/png"))
                                               for index, mask in zip(indices, masks)])
    except ApiError as exc:
        return _json_error(503 if exc.unavailable else exc.status, exc.code, exc.detail)
    new_id = str(result.get("id") or "")
    if not new_id:
        return _json_error(502, "bad_response", "The processing service accepted the correction but returned no "
                                                "job id.")
    return JsonResponse({"id": new_id, "url": reverse("studio:job", args=[new_id]),
                         "deduplicated": bool(result.get("deduplicated"))}, status=202)


def _relay(request: HttpRequest, fetch: Callable[[dict[str, str]], Response],
           content_type: str) -> HttpResponseBase:
    """Stream a file of the API to the browser, with Range and conditional headers passed both ways."""
    headers = {h: request.headers[h] for h in FORWARDED_REQUEST_HEADERS if request.headers.get(h)}
    try:
        upstream = fetch(headers)
    except ApiError as exc:
        return JsonResponse({"error": exc.code, "detail": exc.detail}, status=exc.status or 503)
    if upstream.status_code == 304:
        upstream.close()
        response: HttpResponseBase = HttpResponse(status=304)
    else:
        def body():
            try:
                yield from upstream.raw.stream(64 * 1024, decode_content=False)
            finally:
                upstream.close()

        response = StreamingHttpResponse(body(), status=upstream.status_code,
                                         content_type=upstream.headers.get("Content-Type") or content_type)
    for header in FORWARDED_RESPONSE_HEADERS:
        if header in upstream.headers:
            response[header] = upstream.headers[header]
    return response


@require_http_methods(["GET", "HEAD"])
def output(request: HttpRequest, job_id: str, name: str) -> HttpResponseBase:
    """Proxy one output file, streaming, with Range passed through (so the player can seek)."""
    if name not in OUTPUTS:
        raise Http404("no such output")
    response = _relay(request, lambda headers: get_client().output(job_id, name, headers=headers),
                      _content_type(name))
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{job_id}-{name}"'
    return response


@require_http_methods(["GET", "HEAD"])
def frame_file(request: HttpRequest, job_id: str, index: int, kind: str) -> HttpResponseBase:
    """Proxy one image of frame ``index`` (``kind``: the frame, its predicted mask, an annotation's thumbnail),
    which the API decodes by index: frame n here is always frame n of the masks."""
    return _relay(request, lambda headers: get_client().frame_file(job_id, kind, index, headers=headers),
                  "image/png" if kind == "masks" else "image/jpeg")


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    jobs, total, error = _list_jobs(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, state="done")
    finished = [job for job in jobs if job.get("state") == "done"]
    others: list[dict] = []
    if error is None and page == 1:  # jobs still running, failed or cancelled (newest 50)
        every, _, _ = _list_jobs(limit=50, state="all")
        others = [job for job in every if job.get("state") != "done"]
    unsent = Submission.objects.filter(api_job_id="")
    has_next = (total is not None and page * PAGE_SIZE < total) or (total is None and len(jobs) == PAGE_SIZE)
    return render(request, "studio/gallery.html", {
        "finished": finished, "others": others, "unsent": unsent, "api_error": error, "page": page,
        "has_next": has_next, "has_prev": page > 1})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The site's own health, with the API's (for monitoring and for serve.py)."""
    started = time.monotonic()
    try:
        api = get_client().health()
        api_ok = True
    except ApiError as exc:
        api, api_ok = {"error": exc.code, "detail": exc.detail}, False
    return JsonResponse({"site": "ok", "api_ok": api_ok, "api": api,
                         "elapsed_ms": round((time.monotonic() - started) * 1000)})
