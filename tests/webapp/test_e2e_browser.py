"""End to end, in a real browser: Debian's chromium driven by Python Playwright, against the real API and site
started together by scripts/serve.py (tiny model configuration so a run takes a minute or two).

Run:  pytest -m browser tests/webapp/test_e2e_browser.py -s
Needs: the `playwright` pip package (its driver only; no `playwright install`) and the `chromium` Debian
package, which `scripts/setup_env.sh --dev` (run by scripts/test.sh) installs with apt when it is missing.
Screenshots go to test-artifacts/e2e/.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from devkit import shared_data
from devkit.live_api import free_port, wait_for
from osvos.budget import DEFAULT_DREAMS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

SAMPLE_VIDEO = Path(os.environ.get("OSVOS_E2E_VIDEO", shared_data.HEVC_SAMPLE))
SAMPLE_MASK = Path(os.environ.get("OSVOS_E2E_MASK", shared_data.BLACKSWAN_MASK))
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
JOB_TIMEOUT_S = float(os.environ.get("OSVOS_E2E_JOB_TIMEOUT", "600"))
TIMINGS: dict[str, float] = {}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is missing: `bash scripts/setup_env.sh --dev` installs it (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """`python scripts/serve.py` on free ports with a fresh store; stopped with SIGINT (Ctrl-C) at the end."""
    shared_data.require(SAMPLE_VIDEO)
    shared_data.require(SAMPLE_MASK)
    data = tmp_path_factory.mktemp("studio-data")
    api_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OSVOS_"))}
    env.update(OSVOS_DATA_DIR=str(data), OSVOS_API_PORT=str(api_port), OSVOS_WEB_PORT=str(web_port),
               OSVOS_WORK_SIZE=os.environ.get("OSVOS_E2E_WORK_SIZE", "64"),
               OSVOS_DEFAULT_STEPS=os.environ.get("OSVOS_E2E_STEPS", "10"),
               PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "serve.log"
    log = log_path.open("w")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"serve.py exited early:\n{log_path.read_text()[-3000:]}"
            try:
                health = requests.get(f"{base}/health.json", timeout=5).json()
                if health.get("api_ok"):
                    break
            except (requests.RequestException, ValueError):
                pass
            assert time.monotonic() < deadline, f"site/API not up in time:\n{log_path.read_text()[-3000:]}"
            time.sleep(1)
        TIMINGS["startup_s"] = time.monotonic() - started
        yield {"base": base, "api": f"http://127.0.0.1:{api_port}", "proc": proc, "log": log_path}
    finally:
        stop = time.monotonic()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed after 60 s"
        log.close()
        TIMINGS["shutdown_s"] = time.monotonic() - stop
        print(f"\nserve.py stopped with {code} in {TIMINGS['shutdown_s']:.1f} s; timings: "
              + json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}), flush=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
        assert code == 0, f"serve.py did not stop cleanly on SIGINT ({code})"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")) else None)
    page.errors = errors
    yield page
    context.close()
    assert not outside, f"the pages must work offline, but they requested: {outside[:5]}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_final_state(page, timeout_s: float) -> str:
    page.wait_for_function(
        "() => ['done', 'failed', 'cancelled'].includes("
        "document.querySelector('[data-testid=progress]').getAttribute('data-state'))",
        timeout=timeout_s * 1000, polling=500)
    return page.get_attribute('[data-testid="progress"]', "data-state")


def test_upload_progress_preview_trajectory_gallery(studio, page):
    base = studio["base"]
    t0 = time.monotonic()
    page.goto(base + "/")
    shot(page, "01-home-empty")

    page.goto(base + "/upload/")
    page.set_input_files('input[name="video"]', str(SAMPLE_VIDEO))
    page.set_input_files('input[name="mask"]', str(SAMPLE_MASK))
    page.fill('input[name="name"]', "black swan")
    shot(page, "02-upload")
    page.click('[data-testid="submit"]')
    page.wait_for_url("**/jobs/*/", timeout=120_000)
    job_url = page.url
    job_id = job_url.rstrip("/").split("/")[-1]
    assert page.get_attribute('[data-testid="progress"]', "data-state") in ("queued", "running", "done")
    # catch it while it runs, for the screenshot (best effort)
    try:
        page.wait_for_function("() => document.querySelector('[data-testid=progress]').dataset.state === 'running'"
                               " && parseFloat(document.querySelector('[data-testid=progress]')"
                               ".getAttribute('aria-valuenow')) > 0", timeout=60_000, polling=300)
        shot(page, "03-job-running")
    except Exception:  # noqa: BLE001 - a fast run may skip straight to done
        pass
    submitted = time.monotonic()
    state = wait_final_state(page, JOB_TIMEOUT_S)
    TIMINGS["job_s"] = time.monotonic() - submitted
    shot(page, "04-job-done")
    error = page.text_content('[data-testid="job-error"]')
    assert state == "done", f"job ended {state}: {error}\n{studio['log'].read_text()[-3000:]}"
    steps = os.environ.get("OSVOS_E2E_STEPS", "10")
    assert page.text_content('[data-testid="job-settings"]') == (
        f"{steps} fine-tuning steps · {DEFAULT_DREAMS} dreamed frames · snapped to contours")
    job = requests.get(f"{base}/jobs/{job_id}/status.json", timeout=10).json()
    api_job = requests.get(f"{studio['api']}/api/v1/jobs/{job_id}", timeout=10).json()
    frames = api_job["frames"]
    assert frames > 0 and job["state"] == "done"
    if SAMPLE_VIDEO.name == "blackswan-hevc.mp4":
        assert frames == 50

    # preview: video.js plays the overlay through the site's proxy; seeking works (Range)
    page.click('[data-testid="preview-link"]')
    page.wait_for_url("**/preview/")
    ready = ("() => { const v = document.querySelector('video#preview');"
             " return v && v.readyState >= 2; }")
    page.wait_for_function(ready, timeout=60_000)
    seeked = page.evaluate("""() => new Promise((resolve) => {
        const v = document.querySelector('video#preview');
        v.addEventListener('seeked', () => resolve({t: v.currentTime, rs: v.readyState}), {once: true});
        v.currentTime = 1.5;
        setTimeout(() => resolve({t: v.currentTime, rs: v.readyState, timeout: true}), 15000);
    })""")
    assert not seeked.get("timeout") and abs(seeked["t"] - 1.5) < 0.1, seeked
    page.wait_for_function(ready, timeout=30_000)
    shot(page, "05-preview-overlay")
    page.click('[data-testid="view-side-by-side"]')
    page.wait_for_function("() => { const v = document.querySelector('video#preview');"
                           " return v && v.currentSrc.includes('side_by_side') && v.readyState >= 2; }",
                           timeout=60_000)
    size = page.evaluate("() => { const v = document.querySelector('video#preview');"
                         " return [v.videoWidth, v.videoHeight]; }")
    assert size[0] > size[1] * 2, size  # side by side is twice as wide
    shot(page, "06-preview-side-by-side")
    for name in ("masks.zip", "cutout.webm", "trajectory.csv"):
        href = page.get_attribute(f'[data-testid="download-{name}"]', "href")
        response = page.request.get(base + href)
        assert response.ok and len(response.body()) > 0, name

    # trajectory: one 3-D point per frame; the CSV link; the cursor follows the video
    page.goto(f"{base}/jobs/{job_id}/trajectory/")
    plot = page.locator('[data-testid="trajectory-plot"]')
    page.wait_for_function("() => document.querySelector('[data-testid=trajectory-plot]').dataset.ready === '1'",
                           timeout=60_000)
    assert plot.get_attribute("data-points") == str(frames)
    assert page.evaluate("() => document.querySelector('[data-testid=trajectory-plot]').data[0].z.length") == frames
    csv_href = page.get_attribute('[data-testid="trajectory-csv"]', "href")
    csv = page.request.get(base + csv_href).text()
    assert csv.splitlines()[0] == "frame,time_s,area_px,cx,cy,x_min,y_min,x_max,y_max"
    assert len(csv.strip().splitlines()) == frames + 1
    page.evaluate("() => { const v = document.getElementById('traj-video'); v.currentTime = 1.0; }")
    expected = str(int(1.0 * api_job["fps"] + 1e-6))  # the frame on screen at t = 1 s
    page.wait_for_function("(f) => document.querySelector('[data-testid=trajectory-plot]')"
                           ".dataset.currentFrame === f", arg=expected, timeout=20_000)
    page.wait_for_timeout(500)
    shot(page, "07-trajectory")

    # gallery lists the job
    page.goto(base + "/gallery/")
    item = page.locator(f'[data-testid="gallery-item"][data-job-id="{job_id}"]')
    assert item.count() == 1
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=gallery-item] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=20_000)
    shot(page, "08-gallery")
    page.goto(base + "/")
    shot(page, "09-home")
    assert not page.errors, page.errors
    TIMINGS["flow_s"] = time.monotonic() - t0


def test_the_apis_refusal_is_shown(studio, page, photo_mask):
    """The JPEG photo of the frame is not a mask: the API refuses it (4xx) and the site shows why."""
    page.goto(studio["base"] + "/upload/")
    page.set_input_files('input[name="video"]', str(SAMPLE_VIDEO))
    page.set_input_files('input[name="mask"]', str(photo_mask))
    page.click('[data-testid="submit"]')
    page.wait_for_selector('[data-testid="form-errors"]', timeout=120_000)
    text = page.text_content('[data-testid="form-errors"]')
    assert "refused" in text and "mask" in text, text
    shot(page, "10-upload-refused")


def test_drawn_mask_then_cancel(studio, page):
    """Draw the mask on the first frame (HEVC: extracted by the server), submit, cancel the job."""
    import numpy as np
    from PIL import Image

    base = studio["base"]
    page.goto(base + "/upload/")
    page.set_input_files('input[name="video"]', str(SAMPLE_VIDEO))
    page.check('input[name="mask_source"][value="drawn"]')
    page.wait_for_selector('[data-testid="frame-status"][data-ready="1"]', state="attached", timeout=60_000)
    print("first frame decoded by the", page.get_attribute('[data-testid="frame-status"]', "data-source"))
    canvas = page.locator('[data-testid="mask-canvas"]')
    assert page.evaluate("() => [document.getElementById('mask-canvas').width,"
                         " document.getElementById('mask-canvas').height]") == [854, 480]
    box = canvas.bounding_box()
    scale = box["width"] / 854
    truth = np.asarray(Image.open(SAMPLE_MASK)) > 0
    ys, xs = np.nonzero(truth)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    # polygon: a diamond inside the object's box
    corners = [((x0 + x1) / 2, y0 + 10), (x1 - 10, (y0 + y1) / 2), ((x0 + x1) / 2, y1 - 10), (x0 + 10, (y0 + y1) / 2)]
    page.click('[data-tool="polygon"]')
    for x, y in corners + corners[:1]:
        page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    # and a brush stroke
    page.click('[data-tool="brush"]')
    page.mouse.move(box["x"] + (x0 + 40) * scale, box["y"] + (y0 + 40) * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + (x1 - 40) * scale, box["y"] + (y1 - 40) * scale, steps=8)
    page.mouse.up()
    shot(page, "11-upload-draw")
    page.click("details.field summary")
    page.fill('input[name="budget"]', "300")  # seconds alone: the job trains that long, so it is still running
    page.click('[data-testid="submit"]')
    page.wait_for_url("**/jobs/*/", timeout=120_000)
    page.click('[data-testid="cancel"]')
    page.wait_for_load_state()
    state = wait_final_state(page, 120)
    assert state == "cancelled", state
    shot(page, "12-job-cancelled")
    assert not page.errors, page.errors


def test_first_frame_of_an_h264_video_is_decoded_in_the_browser(studio, page, tmp_path):
    """A codec the browser plays (H.264) needs no round trip: the canvas gets frame 0 locally."""
    import imageio_ffmpeg

    clip = tmp_path / "h264.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=10", "-frames:v", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    str(clip)], check=True)
    page.goto(studio["base"] + "/upload/")
    page.check('input[name="mask_source"][value="drawn"]')
    page.set_input_files('input[name="video"]', str(clip))
    page.wait_for_selector('[data-testid="frame-status"][data-ready="1"]', state="attached", timeout=30_000)
    assert page.get_attribute('[data-testid="frame-status"]', "data-source") == "browser"
    assert page.evaluate("() => [document.getElementById('mask-canvas').width,"
                         " document.getElementById('mask-canvas').height]") == [160, 120]
    # submitting with nothing drawn is refused in the page, before any upload
    page.click('[data-testid="submit"]')
    assert "Draw the object" in page.text_content("#submit-status")
    assert page.url.endswith("/upload/")


def _api_job(studio) -> dict:
    """A finished job of the sample through the API (the same upload as the first test: one job, computed once)."""
    api = studio["api"]
    with open(SAMPLE_VIDEO, "rb") as video, open(SAMPLE_MASK, "rb") as mask:
        reply = requests.post(f"{api}/api/v1/jobs", files={"video": video, "mask": mask},
                              data={"name": "black swan"}, timeout=120)
    assert reply.status_code == 202, reply.text
    return wait_for(api, reply.json()["id"], timeout=JOB_TIMEOUT_S)


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text[:300]
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_GRAYSCALE) > 127


def test_correct_a_frame_through_the_site(studio, page):
    """From the preview (video time) to the correction page (frame by number), redraw frame n's mask over the
    prediction, run again: the new job has the parent link, frames 0 and n annotated, and gives frame n back
    exactly as drawn; the job page's history shows both frames."""
    from PIL import Image

    base, api = studio["base"], studio["api"]
    parent = _api_job(studio)
    assert parent["state"] == "done", parent
    frames, fps = parent["frames"], parent["fps"]
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.split("/jobs/", 1)[-1])
            if "/frames/" in request.url or "/masks/" in request.url else None)

    # The preview's button opens the correction page at the frame on screen (time → number once, here only).
    page.goto(f"{base}/jobs/{parent['id']}/preview/")
    page.wait_for_function("() => { const v = document.querySelector('video#preview');"
                           " return v && v.readyState >= 2; }", timeout=60_000)
    page.evaluate("() => new Promise((resolve) => { const v = document.querySelector('video#preview');"
                  " v.addEventListener('seeked', resolve, {once: true}); v.currentTime = 1.25; })")
    page.click('[data-testid="correct-here"]')
    page.wait_for_url("**/correct/?frame=*")
    on_screen = int(1.25 * fps + 1e-6)
    ready = '[data-testid="frame-status"][data-ready="1"][data-frame="{}"]'
    page.wait_for_selector(ready.format(on_screen), state="attached", timeout=60_000)
    assert asked[-2:] == [f"{parent['id']}/frames/{on_screen}", f"{parent['id']}/masks/{on_screen}"], asked

    # Step by number: the slider to n, then ▶ and ◀; each frame comes with its own mask.
    target = frames * 3 // 5
    page.evaluate("(n) => { const s = document.getElementById('frame-slider'); s.value = n;"
                  " s.dispatchEvent(new Event('change')); }", target)
    page.wait_for_selector(ready.format(target), state="attached", timeout=60_000)
    assert asked[-2:] == [f"{parent['id']}/frames/{target}", f"{parent['id']}/masks/{target}"], asked
    canvas = page.locator('[data-testid="correction-canvas"]')
    assert page.evaluate("() => { const c = document.querySelector('[data-testid=correction-canvas]');"
                         " return [c.width, c.height]; }") == [parent["width"], parent["height"]]
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / parent["width"]
    truth = np.asarray(Image.open(SAMPLE_MASK)) > 0
    ys, xs = np.nonzero(truth)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    width, height = parent["width"], parent["height"]
    page.click('[data-tool="eraser"]')  # wipe a wide band off the prediction, then give the object as a polygon
    page.evaluate("() => { document.querySelector('[data-role=size]').value = 120; }")
    page.mouse.move(box["x"] + 0.65 * width * scale, box["y"] + 0.31 * height * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + width * scale - 2, box["y"] + 0.31 * height * scale, steps=8)
    page.mouse.up()
    corners = [((x0 + x1) / 2, y0 + 5), (x1 - 5, (y0 + y1) / 2), ((x0 + x1) / 2, y1 - 5), (x0 + 5, (y0 + y1) / 2)]
    page.click('[data-tool="polygon"]')
    for x, y in corners + corners[:1]:
        page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    page.wait_for_selector(f'[data-testid="edited-frame"][data-frame="{target}"]', timeout=5_000)
    page.click('[data-role="next"]')
    page.wait_for_selector(ready.format(target + 1), state="attached", timeout=60_000)
    assert asked[-2:] == [f"{parent['id']}/frames/{target + 1}", f"{parent['id']}/masks/{target + 1}"], asked
    page.click(f'[data-testid="edited-frame"][data-frame="{target}"]')  # back to the edit, kept in the page
    page.wait_for_selector(ready.format(target), state="attached", timeout=60_000)
    assert asked[-1] == f"{parent['id']}/frames/{target}", "an edited frame keeps its own mask"
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.wait_for_timeout(300)
    shot(page, "correction")

    page.click('[data-testid="submit-correction"]')
    page.wait_for_function("() => !location.pathname.includes('/correct/')"
                           " || document.getElementById('submit-status').textContent.startsWith('Not sent')",
                           timeout=120_000)
    assert "/correct/" not in page.url, page.text_content('[data-testid="submit-status"]')
    new_id = page.url.rstrip("/").split("/")[-1]
    state = wait_final_state(page, JOB_TIMEOUT_S)
    assert state == "done", (state, studio["log"].read_text()[-3000:])
    job = requests.get(f"{api}/api/v1/jobs/{new_id}", timeout=10).json()
    assert (job["parent"], job["annotated_frames"]) == (parent["id"], [0, target])
    drawn = _png(requests.get(f"{api}/api/v1/jobs/{new_id}/annotations/{target}", timeout=10))
    assert drawn[int((y0 + y1) / 2), int((x0 + x1) / 2)], "the polygon's centre is the object"
    assert np.array_equal(_png(requests.get(f"{api}/api/v1/jobs/{new_id}/masks/{target}", timeout=10)), drawn)
    before = _png(requests.get(f"{api}/api/v1/jobs/{parent['id']}/masks/{target}", timeout=10))
    assert not np.array_equal(before, drawn) and requests.get(f"{api}/api/v1/jobs/{parent['id']}",
                                                              timeout=10).json()["annotated_frames"] == [0]

    # The new job's page: its history shows every annotated frame and links to the job it corrects.
    page.reload()
    items = page.locator('[data-testid="history-item"]')
    assert [items.nth(i).get_attribute("data-frame") for i in range(items.count())] == ["0", str(target)]
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=history-item] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
    assert page.get_attribute('[data-testid="parent-link"]', "href") == f"/jobs/{parent['id']}/"
    shot(page, "13-corrected-job-history")
    assert not page.errors, page.errors
