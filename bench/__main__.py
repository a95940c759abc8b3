"""`make bench`: every benchmark of the project, figures and ratios from one run."""
