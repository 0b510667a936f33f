"""Configuration, read once from the environment (variables prefixed ``CSPR_``).

Every piece of local state lives under one folder, ``CSPR_HOME`` (default ``.cspr`` in the checkout),
so a user can see it and delete it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSPR_", extra="ignore")

    home: Path = Field(
        default=PROJECT_ROOT / ".cspr",
        description="Folder holding every piece of local state: databases, Prefect's home, stored objects.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the project database; unset means a SQLite file under CSPR_HOME.",
    )
    encryption_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma separated, newest first, that wrap each review's own data key. "
        "Unset in local mode: a development key is generated under CSPR_HOME.",
    )
    kms_key_id: str | None = Field(
        default=None,
        description="An AWS KMS key (its id, ARN or alias) that wraps each review's data key instead of "
        "CSPR_ENCRYPTION_KEY; the region is CSPR_S3_REGION. Unset: the encryption key wraps them.",
    )
    gate_key: str | None = Field(
        default=None,
        description="Key that signs the signed-in person onto each form answer; shared by the gate and the workers. "
        "Unset in local mode: generated under CSPR_HOME/keys.",
    )
    service_token: str | None = Field(
        default=None,
        description="The service credential the workers and the command line present at the gate. "
        "Unset in local mode: generated under CSPR_HOME/keys.",
    )
    service_digest: str | None = Field(
        default=None,
        description="The service credential's SHA-256 in hex: all the gate's process holds of it. "
        "Unset: computed from the service credential (cspr up gives the server this, never the credential).",
    )
    audit_key: str | None = Field(
        default=None,
        description="Key that signs each review's audit head and the audit trail's anchors in the object store; "
        "never stored in the database. Unset in local mode: generated under CSPR_HOME/keys.",
    )
    public_url: str | None = Field(
        default=None,
        description="The address people open cspr at, e.g. https://cspr.northshire.example behind a TLS proxy; "
        "unset means http://127.0.0.1:PORT. Sign-in cookies are marked Secure when it is https.",
    )
    demo_accounts: bool = Field(
        default=True,
        description="Whether demo accounts (password alone) may sign in; the team set-up sets false.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The partnership's OpenID Connect identity provider, as its tokens name it (for Entra ID "
        "https://login.microsoftonline.com/<tenant id>/v2.0). Unset: no sign-in with the organisation's accounts.",
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="The gate's client id (Entra ID: the application id) at the identity provider.",
    )
    oidc_client_secret: str | None = Field(
        default=None,
        description="The gate's client secret at the identity provider; from a secrets store, never a file in the "
        "checkout.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Where documents are stored: file:///path for a folder, s3://bucket/prefix for S3; "
        "unset means the folder CSPR_HOME/objects.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3 endpoint of a non-AWS server (SeaweedFS, MinIO); unset means AWS.",
    )
    # boto3's own variable is the fallback, so an AWS set-up that already sets it needs nothing more
    s3_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("CSPR_S3_REGION", "AWS_DEFAULT_REGION"),
        description="The S3 region; unset means AWS_DEFAULT_REGION if that is set.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="The partnership's mail relay: smtp+starttls://user@relay.example:587, smtps://relay.example:465, "
        "or smtp://127.0.0.1:25 for a relay on this host. Unset: messages are written to the folder "
        "CSPR_HOME/outbox instead.",
    )
    smtp_password: str | None = Field(
        default=None, description="The mail relay's password for the user in CSPR_SMTP_URL, from a secrets store."
    )
    mail_from: str = Field(
        default="cspr@localhost",
        description="The address cspr's email is sent from, e.g. cspr@northshire-scp.example.",
    )
    panel_mailbox: str | None = Field(
        default=None, description="The Child Safeguarding Practice Review Panel's mailbox for notices."
    )
    ofsted_mailbox: str | None = Field(default=None, description="Ofsted's mailbox for notices.")
    dfe_mailbox: str | None = Field(default=None, description="The Department for Education's mailbox for notices.")
    secretary_of_state_mailbox: str | None = Field(
        default=None, description="The mailbox for notices to the Secretary of State for Education."
    )
    runs_per_worker: int = Field(
        default=4,
        description="Flow runs at once per worker (each a process), set as the work pool's concurrency limit.",
    )
    checker_socket: Path | None = Field(
        default=None,
        description="The Unix socket the checker listens on (cspr checker: the lifecycle's checks of an answer, run "
        "before the gate passes it on); its folder is owner-only. Unset: CSPR_HOME/run/checker.sock.",
    )
    unresponsive_after: int = Field(
        default=300,  # five missed heartbeats (one a minute): a busy machine is not a dead one
        description="Seconds without a heartbeat before a Running run is checked and, if still Running, "
        "marked Crashed.",
    )

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_checker_socket(self) -> Path:
        return (self.checker_socket or self.resolved_home / "run" / "checker.sock").expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.resolved_home / 'cspr.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
