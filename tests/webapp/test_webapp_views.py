"""The site's pages, forms and proxy, through Django's test client, against a fake API over real HTTP."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from studio.models import Submission

from webapp_fakes import CSV, OUTPUT_BYTES


@pytest.fixture(autouse=True)
def clean_db():
    Submission.objects.all().delete()
    yield
    for sub in Submission.objects.all():
        sub.delete_files()
    Submission.objects.all().delete()


@pytest.fixture
def client():
    return Client()


def upload(client, media, *, video=None, mask=None, **fields):
    video = Path(video or media["video"])
    mask = Path(mask or media["mask"])
    with video.open("rb") as v, mask.open("rb") as m:
        data = {"video": v, "mask": m, "mask_source": "file", "name": "", **fields}
        return client.post("/upload/", data)


# -- pages ------------------------------------------------------------------------------------------------------
def test_home_lists_recent_renders(client, api):
    job = api.add_job("done", name="swan")
    api.add_job("running", name="busy")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="start"' in html
    assert html.count('data-testid="gallery-item"') == 1
    assert f'/jobs/{job["id"]}/outputs/thumbnail.jpg' in html
    assert any(r["path"] == "/api/v1/jobs" and r["args"].get("state") == "done" for r in api.requests)


def test_home_with_the_api_down_says_so(client, api_down):
    response = client.get("/")
    assert response.status_code == 200
    assert b'data-testid="api-down"' in response.content
    assert b"not reachable" in response.content


def test_upload_page_has_the_stable_hooks_and_csrf(client):
    html = client.get("/upload/").content.decode()
    assert re.search(r'<input[^>]+type="file"[^>]+name="video"', html)
    assert re.search(r'<input[^>]+type="file"[^>]+name="mask"', html)
    assert 'data-testid="submit"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'id="mask-canvas"' in html
    assert re.search(r'<input[^>]+name="snap"[^>]+checked', html), "snapping is on by default"
    assert not re.search(r'<input[^>]+name="quick"[^>]+checked', html), "the default fine-tuning unless asked"


def test_upload_sends_files_to_the_api_and_redirects_to_the_job(client, api, media):
    response = upload(client, media, name="my clip", budget="5", snap="on")
    assert response.status_code == 302
    sub = Submission.objects.get()
    assert sub.api_job_id and response["Location"] == f"/jobs/{sub.api_job_id}/"
    assert (sub.state, sub.name, sub.budget, sub.snap) == ("queued", "my clip", 5.0, True)
    assert (sub.video_width, sub.video_height) == (64, 48)
    post = next(r for r in api.requests if r["method"] == "POST")
    assert post["form"] == {"name": "my clip", "budget": "5", "snap": "true"}
    assert post["files"]["video"][1] == media["video"].read_bytes()
    assert post["files"]["mask"][1] == media["mask"].read_bytes()


def test_quick_upload_asks_the_api_for_fewer_steps_and_no_dreams(client, api, media):
    upload(client, media, name="moving", quick="on")
    assert Submission.objects.get().quick is True
    post = next(r for r in api.requests if r["method"] == "POST")
    assert post["form"] == {"name": "moving", "snap": "false", "iterations": "125", "dreams": "0"}


def test_upload_without_a_name_uses_the_video_file_name(client, api, media):
    upload(client, media)
    assert Submission.objects.get().name == "clip"


def test_api_down_keeps_the_upload_and_it_can_be_resubmitted(client, api_down, media, fake_api,
                                                              settings_override):
    response = upload(client, media, name="later")
    sub = Submission.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/submissions/{sub.pk}/"
    assert sub.state == "unsent" and "not reachable" in sub.submit_error
    assert Path(sub.video.path).read_bytes() == media["video"].read_bytes()
    page = client.get(response["Location"])
    assert b'data-testid="resubmit"' in page.content and b"nothing is lost" in page.content
    gallery = client.get("/gallery/")
    assert b'data-testid="unsent-row"' in gallery.content

    # still down: resubmitting keeps it
    response = client.post(f"/submissions/{sub.pk}/resubmit")
    assert response.status_code == 302 and response["Location"] == f"/submissions/{sub.pk}/"
    # the API is back
    fake_api.reset()
    settings_override(OSVOS_API_URL=fake_api.url)
    response = client.post(f"/submissions/{sub.pk}/resubmit")
    sub.refresh_from_db()
    assert sub.api_job_id and response["Location"] == f"/jobs/{sub.api_job_id}/"
    assert sub.submit_error == "" and sub.state == "queued"


def test_the_apis_refusal_is_shown_on_the_form(client, api, media):
    api.reject = (422, "invalid_mask", "the mask does not look like a mask: only 12% of its pixels are clear")
    response = upload(client, media)
    html = response.content.decode()
    assert response.status_code == 422
    assert "the mask does not look like a mask" in html
    assert 'data-testid="form-errors"' in html
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("kind,expected", [
    ("video_ext", "is not a video file we accept"),
    ("not_video", "not a video the server can decode"),
    ("mask_ext", "is not an image file we accept"),
    ("fake_png", "not a readable image"),
    ("mask_size", "The mask is 32×24 pixels but the video is 64×48"),
])
def test_upload_validation(client, api, media, tmp_path, kind, expected):
    video, mask = media["video"], media["mask"]
    if kind == "video_ext":
        video = tmp_path / "clip.txt"
        video.write_bytes(media["video"].read_bytes())
    elif kind == "not_video":
        video = media["not_video"]
    elif kind == "mask_ext":
        mask = media["not_image"]
    elif kind == "fake_png":
        mask = media["fake_png"]
    elif kind == "mask_size":
        mask = media["mask_wrong"]
    response = upload(client, media, video=video, mask=mask)
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not any(r["method"] == "POST" for r in api.requests)
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("setting,expected", [
    ("MAX_VIDEO_BYTES", "The video is"),
    ("MAX_MASK_BYTES", "The mask is"),
])
def test_upload_size_cap(client, api, media, settings_override, setting, expected):
    settings_override(**{setting: 10})
    response = upload(client, media)
    html = response.content.decode().replace("\xa0", " ")
    assert response.status_code == 400
    assert expected in html and "the limit is 10 bytes" in html
    assert Submission.objects.count() == 0


def test_upload_needs_a_mask(client, api, media):
    with media["video"].open("rb") as v:
        response = client.post("/upload/", {"video": v, "mask_source": "drawn"})
    assert response.status_code == 400
    assert b"draw the mask" in response.content


def test_a_drawn_mask_is_recorded_as_drawn(client, api, media):
    upload(client, media, mask_source="drawn")
    assert Submission.objects.get().mask_drawn is True


def test_csrf_is_enforced(media, api):
    strict = Client(enforce_csrf_checks=True)
    assert upload(strict, media).status_code == 403
    job = api.add_job("running")
    assert strict.post(f"/jobs/{job['id']}/cancel").status_code == 403
    assert strict.post(f"/jobs/{job['id']}/delete").status_code == 403
    assert strict.post("/upload/first-frame").status_code == 403


def test_first_frame_is_decoded_by_the_server(client, media):
    with media["video"].open("rb") as v:
        response = client.post("/upload/first-frame", {"video": v})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert (response["X-Frame-Width"], response["X-Frame-Height"]) == ("64", "48")
    assert response.content.startswith(b"\x89PNG")
    with media["not_video"].open("rb") as v:
        bad = client.post("/upload/first-frame", {"video": v})
    assert bad.status_code == 400 and "decode" in bad.json()["detail"]


# -- job page and its status view ----------------------------------------------------------------------------
def test_job_page_shows_progress_and_status_json(client, api):
    job = api.add_job("running", progress=0.42, eta_s=75, stage="segmenting")
    html = client.get(f"/jobs/{job['id']}/").content.decode()
    assert 'data-testid="progress"' in html and 'data-state="running"' in html
    assert "1 min 15 s" in html and "42 %" in html and 'data-testid="cancel"' in html
    status = client.get(f"/jobs/{job['id']}/status.json").json()
    assert status["state"] == "running" and status["progress"] == 0.42 and status["stage"] == "segmenting"
    assert status["final"] is False and status["preview_url"] is None
    api.jobs[job["id"]].update(state="done", progress=1.0)
    status = client.get(f"/jobs/{job['id']}/status.json").json()
    assert status["final"] and status["preview_url"] == f"/jobs/{job['id']}/preview/"


def test_job_page_says_how_the_job_was_fine_tuned(client, api):
    default = api.add_job(params={"iterations": 400, "budget": None, "dreams": 20, "snap": True})
    html = client.get(f"/jobs/{default['id']}/").content.decode()
    assert '<span data-testid="job-settings">400 fine-tuning steps · 20 dreamed frames · snapped to contours</span>' \
        in html
    capped = api.add_job(params={"iterations": 125, "budget": 30.0, "snap": False})
    html = client.get(f"/jobs/{capped['id']}/").content.decode()
    assert '<span data-testid="job-settings">125 fine-tuning steps · at most 30 s of fine-tuning</span>' in html
    assert 'data-testid="job-settings"' not in client.get(f"/jobs/{api.add_job()['id']}/").content.decode()


def test_status_updates_the_stored_submission(client, api, media):
    upload(client, media)
    sub = Submission.objects.get()
    api.jobs[sub.api_job_id].update(state="failed", error="fine-tuning diverged")
    status = client.get(f"/jobs/{sub.api_job_id}/status.json").json()
    assert status["state"] == "failed" and status["error"] == "fine-tuning diverged"
    sub.refresh_from_db()
    assert (sub.state, sub.error) == ("failed", "fine-tuning diverged")
    html = client.get(f"/jobs/{sub.api_job_id}/").content.decode()
    assert "fine-tuning diverged" in html and 'data-testid="resubmit"' in html


def test_job_page_when_the_api_is_down_and_when_the_job_is_unknown(client, api, api_down):
    response = client.get("/jobs/0123456789abcdef0123456789abcdef/")
    assert response.status_code == 200 and b'data-testid="api-down"' in response.content
    status = client.get("/jobs/0123456789abcdef0123456789abcdef/status.json").json()
    assert status["api_down"] is True and "not reachable" in status["message"]


def test_unknown_job_is_a_404_page(client, api):
    response = client.get("/jobs/0123456789abcdef0123456789abcdef/")
    assert response.status_code == 404 and b"Job not found" in response.content
    assert client.get("/jobs/0123456789abcdef0123456789abcdef/status.json").status_code == 404


def test_cancel(client, api):
    job = api.add_job("running")
    response = client.post(f"/jobs/{job['id']}/cancel")
    assert response.status_code == 302 and api.jobs[job["id"]]["state"] == "cancelled"
    done = api.add_job("done")
    response = client.post(f"/jobs/{done['id']}/cancel", follow=True)
    assert b"already done" in response.content


def test_delete_removes_the_job_and_the_stored_files(client, api, media):
    upload(client, media)
    sub = Submission.objects.get()
    video_path = Path(sub.video.path)
    response = client.post(f"/jobs/{sub.api_job_id}/delete", {"next": "/gallery/"})
    assert response.status_code == 302 and response["Location"] == "/gallery/"
    assert sub.api_job_id not in api.jobs
    assert not Submission.objects.exists() and not video_path.exists()
    evil = client.post(f"/jobs/{api.add_job()['id']}/delete", {"next": "https://evil.example/"})
    assert evil["Location"] == "/gallery/"


# -- preview, trajectory, outputs ------------------------------------------------------------------------------
def test_preview_page(client, api):
    job = api.add_job("done", name="swan")
    html = client.get(f"/jobs/{job['id']}/preview/").content.decode()
    assert re.search(r'<video id="preview"', html)
    assert f'/jobs/{job["id"]}/outputs/overlay.mp4' in html
    assert f'/jobs/{job["id"]}/outputs/side_by_side.mp4' in html
    for name in ("masks.zip", "cutout.webm", "trajectory.csv"):
        assert f'/jobs/{job["id"]}/outputs/{name}?download=1' in html
    assert "vendor/videojs/video.min.js" in html


def test_preview_of_an_unfinished_job_redirects_to_the_job(client, api):
    job = api.add_job("running")
    response = client.get(f"/jobs/{job['id']}/preview/")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job['id']}/"


def test_trajectory_page(client, api):
    job = api.add_job("done")
    html = client.get(f"/jobs/{job['id']}/trajectory/").content.decode()
    assert 'data-testid="trajectory-plot"' in html and 'data-testid="trajectory-csv"' in html
    assert f'data-csv-url="/jobs/{job["id"]}/outputs/trajectory.csv"' in html
    assert "vendor/d3/d3.min.js" in html and "vendor/plotly/plotly.min.js" in html


def test_output_proxy_streams_and_passes_ranges_through(client, api):
    job = api.add_job("done")
    url = f"/jobs/{job['id']}/outputs/overlay.mp4"
    full = client.get(url)
    assert full.status_code == 200 and full["Content-Type"] == "video/mp4"
    assert b"".join(full.streaming_content) == OUTPUT_BYTES["overlay.mp4"]
    assert full["Accept-Ranges"] == "bytes" and full["Content-Length"] == str(len(OUTPUT_BYTES["overlay.mp4"]))
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(OUTPUT_BYTES['overlay.mp4'])}"
    assert b"".join(part.streaming_content) == OUTPUT_BYTES["overlay.mp4"][100:200]
    assert api.requests[-1]["headers"]["Range"] == "bytes=100-199"
    beyond = client.get(url, HTTP_RANGE="bytes=999999-")
    assert beyond.status_code == 416
    csv = client.get(f"/jobs/{job['id']}/outputs/trajectory.csv?download=1")
    assert b"".join(csv.streaming_content).decode() == CSV
    assert csv["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/jobs/{job['id']}/outputs/secrets.txt").status_code == 404
    missing = client.get("/jobs/0123456789abcdef0123456789abcdef/outputs/overlay.mp4")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_output_proxy_when_the_api_is_down(client, api_down):
    response = client.get("/jobs/0123456789abcdef0123456789abcdef/outputs/overlay.mp4")
    assert response.status_code == 503 and response.json()["error"] == "api_unavailable"


# -- gallery ------------------------------------------------------------------------------------------------------
def test_gallery_lists_finished_jobs_and_the_others(client, api):
    done = [api.add_job("done", name=f"clip {i}") for i in range(3)]
    api.add_job("failed", name="broken", error="no frames")
    html = client.get("/gallery/").content.decode()
    assert html.count('data-testid="gallery-item"') == 3
    for job in done:
        assert f'data-job-id="{job["id"]}"' in html
        assert f'/jobs/{job["id"]}/trajectory/' in html
    assert 'data-testid="job-row"' in html and "no frames" in html
    client.post(f"/jobs/{done[0]['id']}/delete")
    assert client.get("/gallery/").content.decode().count('data-testid="gallery-item"') == 2


def test_gallery_pages(client, api, settings_override):
    import studio.views

    for i in range(30):
        api.add_job("done", name=f"clip {i}")
    first = client.get("/gallery/").content.decode()
    assert first.count('data-testid="gallery-item"') == studio.views.PAGE_SIZE and "?page=2" in first
    second = client.get("/gallery/?page=2").content.decode()
    assert second.count('data-testid="gallery-item"') == 30 - studio.views.PAGE_SIZE


def test_health_view(client, api):
    body = client.get("/health.json").json()
    assert body["site"] == "ok" and body["api_ok"] is True


def test_static_vendor_files_are_served_by_whitenoise(client):
    for path in ("/static/vendor/videojs/video.min.js", "/static/vendor/d3/d3.min.js",
                 "/static/vendor/plotly/plotly.min.js", "/static/studio/upload.js",
                 "/static/vendor/videojs/LICENSE", "/static/vendor/plotly/LICENSE"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_security_headers(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


# -- corrections --------------------------------------------------------------------------------------------------
def test_job_page_shows_the_annotated_frames_and_the_corrected_job(client, api):
    parent = api.add_job("done", name="swan")
    job = api.add_job("done", name="swan", parent=parent["id"], annotated_frames=[0, 2])
    html = client.get(f"/jobs/{job['id']}/").content.decode()
    assert html.count('data-testid="history-item"') == 2
    for frame in (0, 2):
        assert f'src="/jobs/{job["id"]}/annotations/{frame}/thumbnail"' in html
    assert f'href="/jobs/{parent["id"]}/" data-testid="parent-link"' in html
    assert f'href="/jobs/{job["id"]}/correct/" data-testid="correct-link"' in html
    first = client.get(f"/jobs/{parent['id']}/").content.decode()
    assert first.count('data-testid="history-item"') == 1 and 'data-testid="parent"' not in first


def test_correct_page_has_the_frame_slider_and_the_drawing_tools(client, api):
    job = api.add_job("done", frames=3, annotated_frames=[0, 1])
    response = client.get(f"/jobs/{job['id']}/correct/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<input type="range" id="frame-slider" data-testid="frame-slider" min="0" max="2"', html)
    assert 'data-frames="3"' in html and 'data-annotated="0,1"' in html
    assert f'action="/jobs/{job["id"]}/corrections"' in html and 'name="csrfmiddlewaretoken"' in html
    assert all(f'data-tool="{tool}"' in html for tool in ("brush", "eraser", "polygon"))
    assert "studio/mask_canvas.js" in html and "studio/correct.js" in html
    running = api.add_job("running")
    assert client.get(f"/jobs/{running['id']}/correct/")["Location"] == f"/jobs/{running['id']}/"


def test_frames_masks_and_thumbnails_are_relayed_by_index(client, api):
    job = api.add_job("done", frames=3)
    for path, media_type, body in (("frames/2", "image/jpeg", b"\xff\xd8frame-2"),
                                   ("masks/1", "image/png", b"\x89PNGmask-1"),
                                   ("annotations/0/thumbnail", "image/jpeg", b"\xff\xd8thumb-0")):
        response = client.get(f"/jobs/{job['id']}/{path}")
        assert response.status_code == 200 and response["Content-Type"] == media_type, path
        assert b"".join(response.streaming_content) == body
    assert [r["path"] for r in api.requests][-3:] == [f"/api/v1/jobs/{job['id']}/frames/2",
                                                      f"/api/v1/jobs/{job['id']}/masks/1",
                                                      f"/api/v1/jobs/{job['id']}/annotations/0/thumbnail"]
    missing = client.get(f"/jobs/{job['id']}/frames/3")
    assert missing.status_code == 404 and "outside the video" in missing.json()["detail"]
    assert client.get(f"/jobs/{job['id']}/frames/-1").status_code == 404


def test_corrections_are_sent_to_the_api_and_answer_the_new_job(client, api):
    job = api.add_job("done", frames=3)
    masks = [SimpleUploadedFile(f"m{i}.png", f"png-{i}".encode(), "image/png") for i in (2, 1)]
    response = client.post(f"/jobs/{job['id']}/corrections", {"frame": ["2", "1"], "mask": masks})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["url"] == f"/jobs/{body['id']}/" and body["deduplicated"] is False
    sent = api.requests[-1]
    assert sent["path"] == f"/api/v1/jobs/{job['id']}/corrections" and sent["form"]["frame"] == ["2", "1"]
    assert [data for _, data in sent["files"]] == [b"png-2", b"png-1"]
    new = client.get(f"/jobs/{body['id']}/").content.decode()
    assert new.count('data-testid="history-item"') == 3 and f'/jobs/{job["id"]}/' in new


@pytest.mark.parametrize("fields, status, words", [
    ({"frame": ["1"]}, 400, "one frame number and one mask"),
    ({"frame": ["x"], "mask": "one"}, 400, "whole numbers"),
    ({"frame": ["1", "2"], "mask": "one"}, 400, "one frame number and one mask"),
])
def test_bad_corrections_are_refused_by_the_site(client, api, fields, status, words):
    job = api.add_job("done", frames=3)
    if fields.get("mask") == "one":
        fields = {**fields, "mask": [SimpleUploadedFile("m.png", b"png", "image/png")]}
    response = client.post(f"/jobs/{job['id']}/corrections", fields)
    assert response.status_code == status and words in response.json()["detail"]
    assert not any(r["path"].endswith("/corrections") for r in api.requests)


def test_the_apis_refusal_of_a_correction_is_passed_on(client, api):
    job = api.add_job("done", frames=3)
    api.reject = (422, "invalid_mask", "the mask of frame 1: the mask is empty")
    response = client.post(f"/jobs/{job['id']}/corrections",
                           {"frame": ["1"], "mask": [SimpleUploadedFile("m.png", b"png", "image/png")]})
    assert response.status_code == 422 and response.json()["detail"] == "the mask of frame 1: the mask is empty"


def test_a_correction_while_the_api_is_down_says_so(client, api_down):
    response = client.post(f"/jobs/{'a' * 32}/corrections",
                           {"frame": ["1"], "mask": [SimpleUploadedFile("m.png", b"png", "image/png")]})
    assert response.status_code == 503 and "not reachable" in response.json()["detail"]


def test_corrections_need_the_csrf_token(api):
    job = api.add_job("done", frames=3)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/jobs/{job['id']}/corrections",
                           {"frame": ["1"], "mask": [SimpleUploadedFile("m.png", b"png", "image/png")]})
    assert response.status_code == 403
