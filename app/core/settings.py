"""Settings from the environment (prefix ``REGISTRY_``) and an optional ``.env`` file."""

from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg:// URL of the database. Unset: an embedded Postgres "
        "is started in <data_dir>/postgres.",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Where the embedded Postgres and the generated keys live.",
    )
    migrate_on_start: bool = Field(
        default=False, description="Upgrade the schema at start-up (always on when embedded)."
    )
    db_role: str = Field(
        default="registry_app",
        description="The restricted role the service logs in as: it may only read and append "
        "the logs and records of proof, and owns nothing. Migrations run as the URL's user.",
    )
    app_database_url: str | None = Field(
        default=None,
        description="URL the service connects with (as db_role, with its password). Default: "
        "REGISTRY_DATABASE_URL with the user replaced by db_role and no password (trust or "
        "peer authentication, as on the embedded server).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes of `registry serve` (`--workers`). Each has its own pools: "
        "see db_connections_per_worker and docs/scaling.md for the sum against Postgres's "
        "max_connections.",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="Connections of a worker's main pool (transactions of the API). A worker "
        "holds at most db_connections_per_worker connections; every worker of every instance "
        "together must stay under Postgres's max_connections minus its reserved ones "
        "(docs/scaling.md).",
    )
    db_max_overflow: int = Field(
        default=5, ge=0, description="Extra connections of the main pool under a burst."
    )
    db_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long a request waits for a free connection."
    )
    db_statement_timeout_ms: int = Field(default=15000, ge=0)
    db_statement_pool_size: int = Field(
        default=5,
        ge=1,
        description="Connections of the pool for requests served by one statement (GET "
        "/v1/users/{id}).",
    )
    export_pool_size: int = Field(
        default=2,
        ge=1,
        description="Connections of the exports' own pool (exports never use the API's pool).",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg:// URL of a streaming replica of the database: "
        "exports, audiences, staff listings, the register description and the record of "
        "processing read from it while it is at most replica_max_lag_seconds behind. The "
        "service logs in as db_role there too (or app_database_replica_url).",
    )
    app_database_replica_url: str | None = Field(
        default=None,
        description="URL the service connects to the replica with, as db_role with its "
        "password. Default: REGISTRY_DATABASE_REPLICA_URL with the user replaced by db_role.",
    )
    replica_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Reads go to the primary while the replica is further behind than this "
        "(from pg_last_xact_replay_timestamp()), or unreachable.",
    )
    replica_pool_size: int = Field(
        default=4, ge=1, description="Connections of a worker's pool on the replica."
    )
    replica_check_seconds: float = Field(
        default=1.0, gt=0, description="How often each worker measures the replica's lag."
    )
    replica_catch_up_seconds: float = Field(
        default=0.5,
        ge=0,
        description="A bulk read goes to the replica only once it has replayed everything "
        "committed on the primary before the read began; it waits this long for that, then "
        "reads the primary.",
    )
    exports_max_concurrent: int = Field(
        default=4, ge=1, description="Exports running at once per worker; beyond: 429."
    )

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL the service is reached at; the token issuer (iss). Default: "
        "http://<host>:<port>, so that REGISTRY_PORT alone moves the issuer too.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies trusted for X-Forwarded-For (comma-separated addresses); empty: none.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Larger bodies get 413.")
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Concurrent connections (and requests) a worker holds; beyond: 503.",
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request's head must arrive within this; else closed."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A request's body must arrive within this; else closed."
    )
    send_stall_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A client that reads nothing of a response for this long is cut off.",
    )
    cors_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = True

    # Tokens
    jwt_audience: str = "huutokaupat-registry"
    jwt_keys_dir: Path | None = Field(
        default=None,
        description="Directory of signing keys (<kid>.pem). Default: <data_dir>/keys.",
    )
    jwt_private_key_pem: SecretStr | None = Field(
        default=None, description="A signing key given directly as PEM; it signs when set."
    )
    jwt_key_activation_seconds: int = Field(
        default=300,
        ge=0,
        description="A rotated key is published this long before it signs (JWKS cache age).",
    )
    jwt_keys_reload_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often a worker reads the key directory again: a key rotated by the CLI "
        "or another instance is in its JWKS, and signs, within this (keep the activation time "
        "above it). A token signed by a key it has not seen yet makes it look at once.",
    )
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=30, ge=1)
    token_leeway_seconds: int = Field(default=10, ge=0)

    # Login throttling
    login_free_failures: int = Field(
        default=3,
        ge=1,
        description="Failed sign-ins of one (username, address) pair before it must wait.",
    )
    login_backoff_seconds: int = Field(
        default=2, ge=1, description="The first wait; it doubles with every further failure."
    )
    login_backoff_max_seconds: int = Field(
        default=900, ge=1, description="The longest wait, and how long a streak is remembered."
    )
    login_max_failures_per_address: int = Field(
        default=100,
        ge=1,
        description="Failed sign-ins from one person's address (any usernames) before that "
        "address waits.",
    )
    login_max_failures_per_username: int = Field(
        default=50,
        ge=1,
        description="Failed sign-ins of one username from all addresses before every new "
        "address must also wait (slowed, never locked: known addresses keep their own count).",
    )
    login_username_slowdown_seconds: int = Field(
        default=5,
        ge=1,
        description="The wait between guesses at a username past its ceiling.",
    )
    registrations_per_address_per_hour: int = Field(
        default=10, ge=1, description="Registrations from one person's address an hour."
    )
    password_reset_minutes: int = Field(
        default=30, ge=1, le=1440, description="How long a password-reset token is valid."
    )
    password_resets_per_address_per_hour: int = Field(
        default=10, ge=1, description="Password-reset requests from one person's address an hour."
    )
    password_resets_per_account_per_hour: int = Field(
        default=20,
        ge=1,
        description="Password-reset requests for one account an hour, from all addresses.",
    )
    password_resets_per_account_and_address_per_hour: int = Field(
        default=5,
        ge=1,
        description="Password-reset requests for one account from one person's address an hour.",
    )

    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    generate_keys: bool = Field(
        default=False,
        description="Generate missing keys and secrets in <data_dir> (always when embedded). "
        "Several instances must share them: configure them instead.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key for keyed hashes (HMAC) of addresses and usernames. "
        "Default: generated once in <data_dir>/secret.key.",
    )

    identity_code_keys: SecretStr | None = Field(
        default=None,
        description='JSON {"<key id>": "<base64 of 32 bytes>"}; the greatest key id encrypts. '
        "Default: key files in <data_dir>/identity-code-keys.",
    )
    identity_code_key_activation_seconds: int = Field(
        default=3600,
        ge=0,
        description="A new identity-code key (its id starting with its creation time, "
        "YYYYmmddTHHMMSSZ-...) seals only this long after it was made: time to give it to every "
        "instance before any of them seals with it. Every configured key opens at once.",
    )
    identity_code_index_key: SecretStr | None = Field(
        default=None,
        description="Key of the identity codes' lookup HMAC. "
        "Default: generated in <data_dir>/identity-code-index.key.",
    )
    allow_temporary_identity_codes: bool = Field(
        default=False, description="Accept temporary identity codes (individual number 900-999)."
    )
    registrations_per_minute: int = Field(
        default=600, ge=1, description="Registrations one client may make a minute, all addresses."
    )
    events_retention_months: int = Field(default=24, ge=1)
    notification_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often due Art. 19 notifications are sent."
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long one webhook delivery may take."
    )
    notification_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A notification being sent is no other worker's or instance's to send for "
        "this long; if its sender dies, another sends it (same webhook-id) after it. Longer "
        "than webhook_timeout_seconds.",
    )
    subject_notices_webhook_url: str | None = Field(
        default=None,
        description="The frontend's webhook for notices owed to the person (a restriction "
        "lifted, a request's deadline extended), signed like recipients' notifications. Unset: "
        "the notices wait in the outbox and are listed at GET /v1/users/me/notices.",
    )
    subject_notices_webhook_secret: SecretStr | None = Field(
        default=None, description="The HMAC-SHA256 key of those notices."
    )
    webhook_secret_overlap_hours: int = Field(
        default=24,
        ge=0,
        description="After a recipient's secret is rotated, deliveries are signed with the old "
        "one too for this long.",
    )
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description='JSON list of CIDRs (e.g. ["10.0.0.0/8"]) that webhooks may reach although '
        "private; plain http is allowed only to them. Default: public addresses only, https.",
    )

    transparency_origin: str = Field(
        default="huutokaupat.com/registry",
        description="The logs' checkpoint origins are this plus /disclosure-log and /access-log; "
        "it also names the checkpoint signing key. Never change it once published.",
    )
    transparency_signing_key: SecretStr | None = Field(
        default=None,
        description="PKCS#8 PEM of the Ed25519 key that signs the logs' checkpoints. Every "
        "instance must have the same one. Default: <data_dir>/transparency-ed25519.pem "
        "(generated when allowed).",
    )
    transparency_max_merge_delay_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest time from an entry's commit to its leaf in a signed checkpoint; "
        "the sequencer runs four times as often.",
    )
    transparency_sequencer: bool = Field(
        default=True,
        description="Run the sequencer in this process (one process at a time holds it; the "
        "others stand by and take over within two seconds).",
    )

    controller_name: str = Field(default="Mezzoforte Oy", description="The register's controller.")
    controller_address: str = Field(default="Huopalahdentie 24 B, 00350 Helsinki, Finland")
    controller_email: str = Field(default="juha.jaskara@mezzoforte.fi")
    controller_phone: str = Field(default="+358 40 5700736")
    privacy_policy_url: str = Field(
        default="https://www.huutokaupat.com/rekisteriseloste",
        description="Where the register description (privacy notice) is published.",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Self:
        if self.notification_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "notification_lease_seconds must be longer than webhook_timeout_seconds: a "
                "delivery still running when its lease ends would be sent twice at once"
            )
        return self

    @model_validator(mode="after")
    def _public_url_follows_the_address(self) -> Self:
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def may_generate_keys(self) -> bool:
        return self.database_url is None or self.generate_keys

    @property
    def db_connections_per_worker(self) -> int:
        """The most connections one worker opens on the primary: its main pool with overflow,
        the one-statement pool, the exports' pool, the exports' locks (one per export it may
        run) and the sequencer's (held or standing by)."""
        return (
            self.db_pool_size
            + self.db_max_overflow
            + self.db_statement_pool_size
            + self.export_pool_size
            + self.exports_max_concurrent
            + 1
        )

    @property
    def keys_dir(self) -> Path:
        return self.jwt_keys_dir or self.data_dir / "keys"


@lru_cache
def get_settings() -> Settings:
    return Settings()
