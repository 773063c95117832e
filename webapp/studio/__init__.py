"""The osvos-studio app: submissions, upload, job progress, preview, trajectory and gallery pages."""
