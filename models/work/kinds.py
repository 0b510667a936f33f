"""Every kind of item of the work around a review, by its kind."""

from __future__ import annotations

from typing import Any

from models.work import actions, requests
from models.work.items import ItemKind, Work

WORK: dict[ItemKind, Work[Any]] = {ItemKind.REQUEST: requests.WORK, ItemKind.ACTION: actions.WORK}
