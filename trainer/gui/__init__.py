"""``a2m-trainer``: a window over the dataset build, both training stages, export and
evaluation, with progress, live loss curves, Stop and resume."""
