"""The gate's own pages: sign in, set up the authenticator app, signed out, refused. Plain HTML forms, no script,
everything escaped; nothing a person typed is ever shown back but the address they may want to correct."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def render(template: str, **values: Any) -> bytes:
    return _environment().get_template(template).render(**values).encode()


def sign_in(*, form_token: str, next_path: str, error: str = "", oidc: str = "") -> bytes:
    return render("sign_in.html", title="Sign in", form_token=form_token, next=next_path, error=error, oidc=oidc)


def enrol(*, form_token: str, next_path: str, uri: str, qr_svg: str, error: str = "") -> bytes:
    return render(
        "enrol.html",
        title="Set up your authenticator app",
        wide=True,
        form_token=form_token,
        next=next_path,
        uri=uri,
        qr_svg=qr_svg,
        error=error,
    )


def message(title: str, *paragraphs: str, refused: bool = False, form_token: str = "", **extra: Any) -> bytes:
    return render("message.html", title=title, paragraphs=paragraphs, refused=refused, form_token=form_token, **extra)
