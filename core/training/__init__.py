"""Training and evaluation of the shipped models (reads ../shared/data/acne04 at run time)."""
