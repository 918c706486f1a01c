"""Settings for every service and tool, read from the environment (and an optional `.env`).

One `Settings` class serves all three services so that docker-compose, the run command and the
tests set the same names. Every field is documented in the README's configuration table; a test
checks that the compose file only uses names defined here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.models.competitions.enums import CompetitionLevel
from shared.models.registry.enums import SkillGrade

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The port each service listens on by default (DESIGN.md section 2).
SERVICE_PORTS: dict[str, int] = {"registry": 8001, "competitions": 8002, "judging": 8003}
ServiceName = Literal["registry", "competitions", "judging"]


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgresql://` / `postgres://` forms and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        "development",
        description="Deployment label, written into every log line.",
    )
    database_url: str | None = Field(
        None,
        description="Postgres URL (postgresql://user:pass@host:port/db). Unset: `make run` starts "
        "an embedded Postgres with pgserver.",
    )
    migration_database_url: str | None = Field(
        None,
        description="Postgres URL of the schema owner, for `alembic upgrade` and for creating the "
        "services' login (default: DATABASE_URL). Set it apart from DATABASE_URL so the services "
        "never hold the owner's password.",
    )
    db_app_login: str = Field(
        "skills_app",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="The database login `make run` creates for the services when DATABASE_URL is "
        "the owner's (or unset): a member of `app_writer` only, with a password kept in "
        "KEY_DIR/db-app-password.",
    )
    db_pool_size: int = Field(
        10, ge=1, description="SQLAlchemy pool size per process (connections kept open)."
    )
    db_max_overflow: int = Field(
        0,
        ge=0,
        description="Extra connections above the pool size, closed as soon as they are returned "
        "(under bursts they are opened and closed again and again: size the pool instead).",
    )
    db_role: str | None = Field(
        "app_writer",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="Database role the services switch to on every connection (SET ROLE): "
        "migration 0020 creates `app_writer`, which cannot UPDATE or DELETE the audit log. "
        "Empty: stay the connecting user.",
    )
    db_statement_timeout_ms: int = Field(
        15000, ge=0, description="Server-side statement timeout for every connection (0 = none)."
    )

    registry_url: str = Field("http://127.0.0.1:8001", description="Internal URL of registry.")
    competitions_url: str = Field(
        "http://127.0.0.1:8002", description="Internal URL of the competitions service."
    )
    judging_url: str = Field("http://127.0.0.1:8003", description="Internal URL of judging.")
    public_registry_url: str | None = Field(
        None,
        description="Registry URL as a browser sees it, for the Swagger UI Authorize button of "
        "the other services (default: REGISTRY_URL).",
    )

    jwt_issuer: str = Field("shandong-skills-registry", description="`iss` of issued tokens.")
    jwt_audience: str = Field("shandong-skills", description="`aud` of issued tokens.")
    access_token_ttl_seconds: int = Field(
        900,
        ge=60,
        le=86400,
        description="Lifetime of an access token. Disabling an account or revoking a client "
        "takes effect sooner (ACCESS_REVOCATION_CACHE_SECONDS).",
    )
    refresh_token_ttl_seconds: int = Field(
        14 * 86400,
        ge=300,
        description="Lifetime of a refresh token (people only; each is usable once).",
    )
    login_max_failures_per_username: int = Field(
        10,
        ge=1,
        description="Failed sign-ins for one username (or client id) within LOGIN_WINDOW_SECONDS "
        "after which the token endpoint answers 429.",
    )
    login_max_failures_per_ip: int = Field(
        50,
        ge=1,
        description="Failed sign-ins from one client address within LOGIN_WINDOW_SECONDS after "
        "which the token endpoint answers 429.",
    )
    login_window_seconds: int = Field(
        900, ge=1, description="The rate-limiting window of the token endpoint, seconds."
    )
    token_rate_limit: int = Field(
        60,
        ge=1,
        description="Requests to the token endpoint (any grant, right or wrong) from one client "
        "address per RATE_LIMIT_WINDOW_SECONDS, counted in the database across replicas; more "
        "are answered 429 with Retry-After.",
    )
    certificate_verify_rate_limit: int = Field(
        60,
        ge=1,
        description="Requests to the public certificate verification from one client address "
        "per RATE_LIMIT_WINDOW_SECONDS, counted in the database across replicas.",
    )
    rate_limit_window_seconds: int = Field(
        60, ge=1, le=86400, description="The window of the request rate limits above, seconds."
    )
    key_dir: Path = Field(
        PROJECT_ROOT / "var" / "keys",
        description="Folder holding the registry's RS256 signing key (generated on first run; "
        "keep it out of the repository and share it between registry replicas).",
    )
    data_key: str | None = Field(
        None,
        description="Base64 of 32 random bytes: the key protecting identity and phone numbers "
        "and webhook signing secrets at rest. Unset: KEY_DIR/data.key, which the registry "
        "generates on first run (the dispatcher and migrations only read it).",
        repr=False,
    )
    cursor_key: str | None = Field(
        None,
        description="Base64 of 32 random bytes: signs pagination cursors so that a forged or "
        "edited cursor is refused. Unset: generated on first run into KEY_DIR/cursor.key. Give "
        "every replica of every service the same value (a cursor from one replica is refused "
        "by another with a different key).",
        repr=False,
    )
    service_client_id: str | None = Field(
        None,
        description="This service's machine client at the registry (scope `internal`), for calls "
        "it makes on its own behalf. `make run` provisions one.",
    )
    service_client_secret: str | None = Field(
        None, description="Secret of SERVICE_CLIENT_ID.", repr=False
    )
    leaderboard_freshness_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How old each process's knowledge of a stage's published results version may "
        "be: the public leaderboard shows a new version on every replica within this many "
        "seconds (at once on the replica that published it). Each process re-reads the version "
        "(one indexed one-row query) about twice per period per stage being viewed.",
    )
    score_fast_path: bool = Field(
        True,
        description="Judging: answer a judge's usual mark and submission writes with one SQL "
        "function call (`judging_put_sheet`, `judging_submit_sheet`) instead of the general path "
        "(the same rules; anything unusual falls back to the general path). False: always the "
        "general path. The tests run the scoring suites both ways.",
    )
    access_revocation_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How old each process's copy of the disabled accounts and revoked machine "
        "clients may be: a disabled person's or revoked client's still-valid token is refused "
        "by every service within this many seconds (0: checked on every request).",
    )
    jwks_cache_seconds: int = Field(
        300, ge=0, description="How long the other services cache the registry's JWKS."
    )

    argon2_time_cost: int = Field(
        3, ge=1, le=20, description="Argon2id passes for new password and client-secret hashes."
    )
    argon2_memory_kib: int = Field(
        65536, ge=1024, description="Argon2id memory for new hashes, KiB (64 MiB by default)."
    )

    import_max_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        description="Largest accepted upload (multipart/form-data: bulk imports, entry "
        "spreadsheets), bytes; larger ones are refused with a 413.",
    )
    import_max_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Times an import job is started (a process stopping or failing under it "
        "counts, restarts included) before it is failed for good and its file deleted.",
    )
    idempotency_retention_hours: float = Field(
        72.0,
        gt=0,
        description="How long the first answer to a create sent with an Idempotency-Key is "
        "kept for replays; older ones are deleted by each service (hourly, or twice per "
        "retention period when shorter), after which the key may be used again.",
    )
    import_file_retention_hours: float = Field(
        24.0,
        gt=0,
        description="An uploaded file (encrypted) is deleted when its import ends; a job not "
        "finished this many hours after upload is failed and its file deleted.",
    )
    table_max_rows: int = Field(
        1_048_576,
        ge=10,
        description="Most rows an uploaded CSV or XLSX may have (Excel's own sheet limit).",
    )
    table_max_cell_chars: int = Field(
        32_767,
        ge=64,
        description="Longest cell taken from an upload (Excel's own cell limit); a longer "
        "one is an error of its row.",
    )
    xlsx_max_columns: int = Field(
        1_000, ge=10, description="Most columns an uploaded XLSX sheet may use."
    )
    xlsx_max_cells: int = Field(
        20_000_000, ge=100, description="Most cells in all the sheets of an uploaded XLSX."
    )
    xlsx_max_uncompressed_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1024,
        description="Most bytes an uploaded XLSX may unpack to (zip bombs are refused by the "
        "sizes their entries declare, before anything is unpacked).",
    )
    xlsx_max_shared_strings: int = Field(
        4_000_000,
        ge=10,
        description="Most distinct texts (shared strings) in an uploaded XLSX; openpyxl holds "
        "them all in memory, about 100 bytes each.",
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest accepted request body other than an upload (JSON, forms), bytes; "
        "larger ones are refused with a 413 before they are parsed.",
    )

    http_connect_timeout: float = Field(
        2.0, gt=0, description="Service-to-service connect timeout, seconds."
    )
    http_read_timeout: float = Field(10.0, gt=0, description="Service-to-service read timeout.")
    http_retries: int = Field(
        2, ge=0, le=5, description="Retries (with backoff) for idempotent service-to-service calls."
    )

    mentor_min_grade: SkillGrade = Field(
        SkillGrade.technician,
        description="The lowest skill grade a mentor may hold (a grade of the national ladder, "
        "e.g. technician).",
    )
    mentor_max_apprentices: int = Field(
        5, ge=1, description="The most active mentorships one mentor may have at a time."
    )
    eligibility_read_model: bool = Field(
        True,
        description="Competitions: read a registering worker's eligibility facts from the "
        "registry's `worker_eligibility` read model in SQL (true) rather than through the "
        "registry's `workers:batch-get` (false). The same rules run on both; the tests run both.",
    )
    registration_batching: bool = Field(
        True,
        description="Competitions: registrations without an Idempotency-Key arriving together "
        "for one event take their places in one call (one lock, one commit; true), or one call "
        "each (false). The tests run both.",
    )

    judge_local_conflict_levels: Annotated[list[CompetitionLevel], NoDecode] = Field(
        default_factory=lambda: [CompetitionLevel.provincial],
        description="Competition levels at which a judge from the same city as a competitor has "
        "a conflict of interest, comma-separated.",
    )
    certificate_verify_base_url: str = Field(
        "http://127.0.0.1:8003",
        description="The judging service as the public reaches it: certificates carry a QR code "
        "of BASE/v1/certificates:verify?code=....",
    )
    award_sweep_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How often each judging process looks for finalised stages whose awards "
        "are not all sent (the process that finalised may have died, or the registry was "
        "down) and completes them; several replicas share the work. 0: never.",
    )
    award_retry_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Wait before a stage's awards are tried again after a failure; it doubles "
        "with each failure, up to an hour.",
    )
    national_recommendation_top_n: int = Field(
        3,
        ge=1,
        le=100,
        description="How many places of a provincial event's final results are recommended to "
        "the national contest by default (`top` overrides it per request; ties at the last "
        "place are all listed and flagged).",
    )
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 86400.0],
        description="Delays before each retry of a webhook delivery, comma-separated seconds "
        "(suffixes s, m, h allowed: `5s,5m,30m,2h,5h,10h,24h`); ±20% jitter is added. After "
        "the last retry fails the delivery is marked failed.",
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="Timeout of one webhook request, seconds."
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hostnames or CIDRs that webhook URLs may reach although not public (the "
        "SSRF guard refuses every address that is not globally reachable otherwise), "
        "comma-separated. Empty by default; answers from such receivers are not kept in the "
        "delivery log.",
    )
    webhook_batch_size: int = Field(
        100,
        ge=1,
        le=1000,
        description="Deliveries (and events to fan out) one dispatcher "
        "claims at a time; they are sent concurrently.",
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle dispatcher looks for new work."
    )
    webhook_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a dispatcher's claim on a delivery lasts; a killed dispatcher's "
        "claims come back to the others after it.",
    )
    webhook_concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="Batches one dispatcher works on at once: while some are being sent, the "
        "next are claimed and the finished ones recorded.",
    )
    webhook_subscription_concurrency: int = Field(
        16,
        ge=1,
        le=1000,
        description="Requests one dispatcher has in flight to one subscription at most (its "
        "keep-alive connections to that receiver).",
    )

    stats_min_cell: int = Field(
        5,
        ge=1,
        le=100,
        description="Programme statistics: a cell counting fewer people than this is suppressed "
        "(with complementary cells, so that totals do not reveal it).",
    )

    log_level: str = Field("INFO", description="Python log level.")
    log_json: bool = Field(True, description="Structured JSON logs (false: plain text).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            f"http://{host}:{port}"
            for host in ("localhost", "127.0.0.1")
            for port in SERVICE_PORTS.values()
        ],
        description="Origins allowed by CORS, comma-separated.",
    )

    @field_validator("cors_origins", "judge_local_conflict_levels", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            units = {"s": 1, "m": 60, "h": 3600}
            out = []
            for part in (p.strip().lower() for p in value.split(",")):
                if not part:
                    continue
                factor = units.get(part[-1])
                out.append(float(part[:-1]) * factor if factor else float(part))
            return out
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value):
            raise ValueError("retry delays must not be negative")
        return value

    @field_validator("db_role", mode="before")
    @classmethod
    def _empty_role(cls, value: object) -> object:
        return value or None

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _normalise_db(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    @property
    def browser_registry_url(self) -> str:
        return (self.public_registry_url or self.registry_url).rstrip("/")

    def service_url(self, name: ServiceName) -> str:
        url: str = getattr(self, f"{name}_url")
        return url.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
