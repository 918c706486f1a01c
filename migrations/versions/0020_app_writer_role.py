"""Least privilege: the services work as the NOLOGIN role `app_writer`, which may read and write
every table but may not UPDATE, DELETE or TRUNCATE the audit log.

Migrations run as the schema owner; the services `SET ROLE app_writer` on every connection
(setting DB_ROLE). Default privileges give `app_writer` the same rights on tables and sequences
that later migrations create, so only the audit log needs an explicit REVOKE.

Revision ID: 0020
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Roles belong to the cluster, not the database: create it once, whoever migrates first.
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_writer') THEN
                CREATE ROLE app_writer NOLOGIN;
            END IF;
        END
        $$
        """
    )
    # The migrating (owner) user may switch to it; superusers may anyway.
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, 'app_writer', 'MEMBER') THEN
                EXECUTE format('GRANT app_writer TO %I', current_user);
            END IF;
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO app_writer")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_writer")
    op.execute("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO app_writer")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_writer"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO app_writer"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM app_writer")


def downgrade() -> None:
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM app_writer"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM app_writer"
    )
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM app_writer")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM app_writer")
    op.execute("REVOKE USAGE ON SCHEMA public FROM app_writer")
    # The role itself stays: other databases of the cluster may use it.
