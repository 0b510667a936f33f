"""The work around a review, beside its steps: agencies' information requests (``requests.py``) and the actions on
its recommendations (``actions.py``). Each request or action is an item (``items.py``) with its own run, which asks
its people in parallel with the review's own steps and records their answers."""
