from django.urls import path, register_converter

from . import views


class JobIdConverter:
    """API job ids: letters, digits, '-', '_' and '.' (no slashes, no leading dot)."""

    regex = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(JobIdConverter, "jobid")

app_name = "studio"
urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("upload/first-frame", views.first_frame, name="first_frame"),
    path("submissions/<int:pk>/", views.submission, name="submission"),
    path("submissions/<int:pk>/resubmit", views.resubmit, name="resubmit"),
    path("submissions/<int:pk>/delete", views.delete_submission, name="delete_submission"),
    path("jobs/<jobid:job_id>/", views.job, name="job"),
    path("jobs/<jobid:job_id>/status.json", views.job_status, name="job_status"),
    path("jobs/<jobid:job_id>/cancel", views.cancel, name="cancel"),
    path("jobs/<jobid:job_id>/delete", views.delete_job, name="delete_job"),
    path("jobs/<jobid:job_id>/preview/", views.preview, name="preview"),
    path("jobs/<jobid:job_id>/trajectory/", views.trajectory, name="trajectory"),
    path("jobs/<jobid:job_id>/outputs/<str:name>", views.output, name="output"),
    path("jobs/<jobid:job_id>/correct/", views.correct, name="correct"),
    path("jobs/<jobid:job_id>/corrections", views.corrections, name="corrections"),
    path("jobs/<jobid:job_id>/frames/<int:index>", views.frame_file, {"kind": "frames"}, name="frame"),
    path("jobs/<jobid:job_id>/masks/<int:index>", views.frame_file, {"kind": "masks"}, name="predicted_mask"),
    path("jobs/<jobid:job_id>/annotations/<int:index>/thumbnail", views.frame_file,
         {"kind": "annotations/thumbnail"}, name="annotation_thumbnail"),
    path("gallery/", views.gallery, name="gallery"),
    path("health.json", views.health, name="health"),
]
