"""Programme statistics: summary tables kept current in the transaction of every change.

Each service's summaries (`shared/stats/vocabulary.py` names their grains and measures):

- registry: `stats_registry_people` (workers by the grade they held each month, registrations
  and grade changes) and `stats_registry_activity` (mentoring, training, honours, innovation
  achievements);
- competitions: `stats_competitions_facts` (competitions held, entries, participants);
- judging: `stats_judging_facts` (finalists, winners), with `stats_judging_stages`, the
  competition facts of a finalised stage that judging records when it finalises (it reads them
  from competitions over HTTP, like every other stage fact).

How they stay current: AFTER ... FOR EACH STATEMENT triggers with transition tables, in the
writing transaction. A statement's contribution is computed once from its old rows (with sign
-1) and its new rows (+1) and grouped by GROUPING SETS into every grain: a COPY or a 5,000-row
import batch costs one grouped insert, not 5,000. A change to an attribute summaries group by
(a worker's locality, an enterprise's industry, a competition's level) moves that object's
whole contribution.

The triggers only *append* their grouped deltas to `<table>_pending`: adding them to the
summary rows in the writing transaction would lock those rows until it commits, so concurrent
writers of the same cell (two import batches of the same month and city, a burst of
registrations) would queue on it, and the import's in-order commits deadlocked on it (seen in
the first version). Readers read the summary and its pending rows together (exact as soon as a
change commits); `stats_fold_<service>()`, run every second by each service, moves the pending
deltas into the summaries (one folder at a time per service: an advisory lock).

The contribution of each source is written once below (`*_rows` templates) and used three
ways: by the triggers (over transition tables), and by `stats_rebuild_<service>()`, which
recomputes the summaries from the base tables (`python -m services.<service>.statistics
rebuild`). Moving a service to its own database keeps its summaries with it: each service's
triggers read only its own tables.

Revision ID: 0054
Revises: 0052
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0054"
down_revision: str | None = "0052"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHANGHAI_MONTH = "CAST(date_trunc('month', ({ts}) AT TIME ZONE 'Asia/Shanghai') AS date)"
DATE_MONTH = "CAST(date_trunc('month', {d}) AS date)"
BIRTH_YEAR = "CAST(extract(year FROM w.birth_date) AS smallint)"


def smonth(ts: str) -> str:
    return SHANGHAI_MONTH.format(ts=ts)


def dmonth(d: str) -> str:
    return DATE_MONTH.format(d=d)


# --- registry: people -------------------------------------------------------------------------

PEOPLE = "stats_registry_people"
PEOPLE_COLS = [
    "month",
    "locality_code",
    "grade",
    "file_status",
    "industry",
    "sex",
    "birth_year",
    "source",
    "enterprise_id",
    "occupation",
]
PEOPLE_VALUES = ["delta", "registered", "changes"]
PEOPLE_SETS = [PEOPLE_COLS[:4], PEOPLE_COLS[:8], PEOPLE_COLS]
PEOPLE_GRAIN = (
    "CASE WHEN GROUPING(industry) = 1 THEN 1 WHEN GROUPING(enterprise_id) = 1 THEN 2 ELSE 3 END"
)


def people_rows(g: str, w: str, e: str, sign: int, ejoin: str = "LEFT") -> str:
    """A grade change moves its worker out of the grade it left (-1) into the one it reached
    (+1) in the month it took effect; the first grade is a registration."""
    return f"""
    SELECT {dmonth("g.effective_date")} AS month, w.locality_code, x.grade, w.file_status,
           e.industry, w.sex, {BIRTH_YEAR} AS birth_year, g.source, w.enterprise_id,
           w.occupation, {sign} * x.d AS delta, {sign} * x.r AS registered,
           {sign} * x.c AS changes
    FROM {g} g JOIN {w} w ON w.id = g.worker_id {ejoin} JOIN {e} e ON e.id = w.enterprise_id
    CROSS JOIN LATERAL (VALUES
        (g.to_grade, 1, CASE WHEN g.source = 'initial' THEN 1 ELSE 0 END,
                        CASE WHEN g.source = 'initial' THEN 0 ELSE 1 END),
        (g.from_grade, -1, 0, 0)
    ) AS x(grade, d, r, c)
    WHERE x.grade IS NOT NULL"""


# --- registry: activity -----------------------------------------------------------------------

ACTIVITY = "stats_registry_activity"
ACTIVITY_COLS = [
    "measure",
    "month",
    "locality_code",
    "category",
    "detail",
    "industry",
    "enterprise_id",
    "sex",
    "birth_year",
    "occupation",
]
ACTIVITY_VALUES = ["value", "people"]
ACTIVITY_SETS = [ACTIVITY_COLS[:5], ACTIVITY_COLS]
ACTIVITY_GRAIN = "CASE WHEN GROUPING(industry) = 1 THEN 1 ELSE 2 END"
WORKER_DIMS = f"e.industry, w.enterprise_id, w.sex, {BIRTH_YEAR} AS birth_year, w.occupation"


def mentorship_rows(m: str, w: str, e: str, sign: int, ejoin: str = "LEFT") -> str:
    """Counted at the apprentice: started and active from the actual start, completed or
    terminated (and no longer active) at the actual end."""
    return f"""
    SELECT x.measure, {dmonth("x.day")} AS month, w.locality_code, m.kind AS category,
           CAST(NULL AS text) AS detail, {WORKER_DIMS},
           CAST({sign} * x.v AS numeric) AS value, {sign} * x.v AS people
    FROM {m} m JOIN {w} w ON w.id = m.apprentice_id {ejoin} JOIN {e} e ON e.id = w.enterprise_id
    CROSS JOIN LATERAL (VALUES
        ('mentorships_started', m.actual_start_date, 1),
        ('mentorships_active', m.actual_start_date, 1),
        ('mentorships_active', CASE WHEN m.status IN ('completed', 'terminated')
                                    AND m.actual_start_date IS NOT NULL
                               THEN m.actual_end_date END, -1),
        ('mentorships_completed', CASE WHEN m.status = 'completed' THEN m.actual_end_date END, 1),
        ('mentorships_terminated', CASE WHEN m.status = 'terminated'
                                        AND m.actual_start_date IS NOT NULL
                                   THEN m.actual_end_date END, 1)
    ) AS x(measure, day, v)
    WHERE x.day IS NOT NULL"""


def programme_rows(p: str, sign: int) -> str:
    return f"""
    SELECT 'training_programmes' AS measure, {dmonth("p.starts_on")} AS month, p.locality_code,
           p.kind AS category, p.status AS detail, CAST(NULL AS text) AS industry,
           p.enterprise_id, CAST(NULL AS text) AS sex, CAST(NULL AS smallint) AS birth_year,
           CAST(NULL AS text) AS occupation, CAST({sign} AS numeric) AS value, 0 AS people
    FROM {p} p"""


def enrolment_rows(n: str, w: str, e: str, sign: int, ejoin: str = "LEFT") -> str:
    """Enrolments (not withdrawn) in the month made; hours in the month credited."""
    return f"""
    SELECT x.measure, {smonth("x.at")} AS month, w.locality_code, p.kind AS category,
           CAST(NULL AS text) AS detail, {WORKER_DIMS},
           {sign} * x.v AS value, {sign} AS people
    FROM {n} n JOIN training_programmes p ON p.id = n.programme_id
    JOIN {w} w ON w.id = n.worker_id {ejoin} JOIN {e} e ON e.id = w.enterprise_id
    CROSS JOIN LATERAL (VALUES
        ('training_enrolments', CASE WHEN n.status = 'enrolled' THEN n.created_at END,
         CAST(1 AS numeric)),
        ('training_hours', CASE WHEN n.hours_credited IS NOT NULL THEN n.completed_at END,
         n.hours_credited)
    ) AS x(measure, at, v)
    WHERE x.at IS NOT NULL"""


def honour_rows(h: str, w: str, e: str, sign: int, ejoin: str = "LEFT") -> str:
    return f"""
    SELECT x.measure, {dmonth("x.day")} AS month, w.locality_code, o.level AS category,
           h.honour_code AS detail, {WORKER_DIMS},
           CAST({sign} AS numeric) AS value, {sign} AS people
    FROM {h} h JOIN honours o ON o.code = h.honour_code
    JOIN {w} w ON w.id = h.worker_id {ejoin} JOIN {e} e ON e.id = w.enterprise_id
    CROSS JOIN LATERAL (VALUES
        ('honours_granted', h.granted_on),
        ('honours_revoked', CAST((h.revoked_at AT TIME ZONE 'Asia/Shanghai') AS date))
    ) AS x(measure, day)
    WHERE x.day IS NOT NULL"""


def achievement_rows(a: str, e: str, sign: int) -> str:
    return f"""
    SELECT 'achievements' AS measure, {smonth("a.created_at")} AS month, e.locality_code,
           a.technology_area AS category, a.stage AS detail, e.industry, a.enterprise_id,
           CAST(NULL AS text) AS sex, CAST(NULL AS smallint) AS birth_year,
           CAST(NULL AS text) AS occupation, CAST({sign} AS numeric) AS value, 0 AS people
    FROM {a} a JOIN {e} e ON e.id = a.enterprise_id"""


# --- competitions -----------------------------------------------------------------------------

COMPETITIONS = "stats_competitions_facts"
COMPETITIONS_COLS = [
    "measure",
    "month",
    "competition_year",
    "organiser_locality_code",
    "level",
    "kind",
    "detail",
    "organiser_enterprise_id",
    "industry",
    "locality_code",
    "enterprise_id",
]
COMPETITIONS_SETS = [COMPETITIONS_COLS[:7], COMPETITIONS_COLS]
COMPETITIONS_GRAIN = "CASE WHEN GROUPING(industry) = 1 THEN 1 ELSE 2 END"
COMPETITION_DIMS = "c.year AS competition_year, c.organiser_locality_code, c.level, c.kind"


def competition_rows(c: str, sign: int) -> str:
    """Held: every competition past its draft, in the month it starts (else was created)."""
    return f"""
    SELECT 'competitions_held' AS measure,
           {dmonth("coalesce(c.starts_on, CAST((c.created_at AT TIME ZONE 'Asia/Shanghai') AS date))")}
               AS month, {COMPETITION_DIMS}, c.status AS detail, c.organiser_enterprise_id,
           c.industry, CAST(NULL AS varchar) AS locality_code, CAST(NULL AS uuid) AS enterprise_id,
           CAST({sign} AS numeric) AS value, 0 AS people
    FROM {c} c WHERE c.status <> 'draft'"""


def entry_rows(n: str, c: str, sign: int) -> str:
    return f"""
    SELECT 'entries' AS measure, {smonth("n.created_at")} AS month, {COMPETITION_DIMS},
           n.status AS detail, c.organiser_enterprise_id, c.industry, n.locality_code,
           n.enterprise_id, CAST({sign} AS numeric) AS value, {sign} AS people
    FROM {n} n JOIN {c} c ON c.id = n.competition_id"""


def participant_rows(mb: str, n: str, c: str, sign: int) -> str:
    """Every active member of an entry holding a place (the leader of a team included)."""
    return f"""
    SELECT 'participants' AS measure, {smonth("n.created_at")} AS month, {COMPETITION_DIMS},
           CAST(NULL AS text) AS detail, c.organiser_enterprise_id, c.industry, n.locality_code,
           n.enterprise_id, CAST({sign} AS numeric) AS value, {sign} AS people
    FROM {mb} mb JOIN {n} n ON n.id = mb.entry_id JOIN {c} c ON c.id = n.competition_id
    WHERE mb.active AND n.status IN ('pending', 'approved', 'checked_in')"""


# --- judging ----------------------------------------------------------------------------------

JUDGING = "stats_judging_facts"
JUDGING_COLS = [
    "measure",
    "month",
    "competition_year",
    "organiser_locality_code",
    "organiser_enterprise_id",
    "level",
    "kind",
    "locality_code",
    "detail",
]
JUDGING_SETS = [JUDGING_COLS]
JUDGING_GRAIN = "1"


def result_rows(re: str, r: str, s: str, sign: int) -> str:
    """Finalists: the ranked entries of a final result with no later stage to advance to;
    winners: those of them with a prize or a medal."""
    return f"""
    SELECT x.measure, {smonth("r.finalised_at")} AS month, s.competition_year,
           s.organiser_locality_code, s.organiser_enterprise_id, s.level, s.kind,
           re.locality_code, x.detail, CAST({sign} AS numeric) AS value, {sign} AS people
    FROM {re} re JOIN {r} r ON r.id = re.result_id JOIN {s} s ON s.stage_id = r.stage_id
    CROSS JOIN LATERAL (VALUES
        ('finalists', CAST(NULL AS text), true),
        ('winners', coalesce(re.prize, re.medal), coalesce(re.prize, re.medal) IS NOT NULL)
    ) AS x(measure, detail, counts)
    WHERE r.status = 'final' AND r.advancement IS NULL AND r.finalised_at IS NOT NULL
      AND x.counts"""


# --- generation -------------------------------------------------------------------------------


def upsert(
    table: str,
    cols: list[str],
    values: list[str],
    sets: list[list[str]],
    grain: str,
    parts: list[str],
) -> str:
    """Append the grouped contributions of `parts`, at every grain, to `table`'s pending
    deltas (cells whose contributions cancel out are left out)."""
    sets_sql = ", ".join("(" + ", ".join(s) + ")" for s in sets)
    sums = ", ".join(f"sum({v}) AS {v}" for v in values)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
    union = "\n    UNION ALL".join(parts)
    return f"""
INSERT INTO {table}_pending (grain, {", ".join(cols)}, {", ".join(values)}, updated_at)
SELECT {grain}, {", ".join(cols)}, {sums}, now()
FROM ({union}
) AS c
GROUP BY GROUPING SETS ({sets_sql})
HAVING {nonzero};
"""


def merge(
    table: str,
    cols: list[str],
    values: list[str],
    sets: list[list[str]],
    grain: str,
    parts: list[str],
) -> str:
    """Add the grouped contributions of `parts` to every grain of `table` itself (rebuild)."""
    sets_sql = ", ".join("(" + ", ".join(s) + ")" for s in sets)
    sums = ", ".join(f"sum({v}) AS {v}" for v in values)
    updates = ", ".join(f"{v} = t.{v} + excluded.{v}" for v in values)
    union = "\n    UNION ALL".join(parts)
    return f"""
INSERT INTO {table} AS t (grain, {", ".join(cols)}, {", ".join(values)}, updated_at)
SELECT {grain}, {", ".join(cols)}, {sums}, now()
FROM ({union}
) AS c
GROUP BY GROUPING SETS ({sets_sql})
ON CONFLICT (grain, {", ".join(cols)}) DO UPDATE SET {updates}, updated_at = excluded.updated_at;
"""


Writer = Callable[[str, list[str], list[str], list[list[str]], str, list[str]], str]


def people(parts: list[str], into: Writer = upsert) -> str:
    return into(PEOPLE, PEOPLE_COLS, PEOPLE_VALUES, PEOPLE_SETS, PEOPLE_GRAIN, parts)


def activity(parts: list[str], into: Writer = upsert) -> str:
    return into(ACTIVITY, ACTIVITY_COLS, ACTIVITY_VALUES, ACTIVITY_SETS, ACTIVITY_GRAIN, parts)


def competitions(parts: list[str], into: Writer = upsert) -> str:
    return into(
        COMPETITIONS,
        COMPETITIONS_COLS,
        ACTIVITY_VALUES,
        COMPETITIONS_SETS,
        COMPETITIONS_GRAIN,
        parts,
    )


def judging(parts: list[str], into: Writer = upsert) -> str:
    return into(JUDGING, JUDGING_COLS, ACTIVITY_VALUES, JUDGING_SETS, JUDGING_GRAIN, parts)


def changed(cols: list[str], side: str) -> str:
    """The transition rows (`old_rows` or `new_rows`) whose grouped attributes changed."""
    old = ", ".join(f"o.{c}" for c in cols)
    new = ", ".join(f"n.{c}" for c in cols)
    return (
        f"(SELECT {side}.* FROM new_rows n JOIN old_rows o ON o.id = n.id "
        f"WHERE ({old}) IS DISTINCT FROM ({new}))"
    )


WORKER_ATTRS = ["locality_code", "enterprise_id", "sex", "birth_date", "occupation", "file_status"]
ENTERPRISE_ATTRS = ["industry", "locality_code"]
COMPETITION_ATTRS = [
    "year",
    "organiser_locality_code",
    "organiser_enterprise_id",
    "level",
    "kind",
    "industry",
]
ENTRY_ATTRS = ["status", "locality_code", "enterprise_id", "created_at", "competition_id"]


def triggers() -> dict[tuple[str, str], list[str]]:
    """(table, INSERT|UPDATE|DELETE) -> the statements its trigger runs."""
    W, E = "workers", "enterprises"
    wo, wn = changed(WORKER_ATTRS, "o"), changed(WORKER_ATTRS, "n")
    eo, en = changed(ENTERPRISE_ATTRS, "o"), changed(ENTERPRISE_ATTRS, "n")
    co, cn = changed(COMPETITION_ATTRS, "o"), changed(COMPETITION_ATTRS, "n")
    no, nn = changed(ENTRY_ATTRS, "o"), changed(ENTRY_ATTRS, "n")
    t: dict[tuple[str, str], list[str]] = {}

    def simple(table: str, sink, template, *rest: str, **kw: str) -> None:  # type: ignore[no-untyped-def]
        t[(table, "INSERT")] = [sink([template("new_rows", *rest, sign=1, **kw)])]
        t[(table, "DELETE")] = [sink([template("old_rows", *rest, sign=-1, **kw)])]
        t[(table, "UPDATE")] = [
            sink(
                [
                    template("old_rows", *rest, sign=-1, **kw),
                    template("new_rows", *rest, sign=1, **kw),
                ]
            )
        ]

    simple("grade_changes", people, people_rows, W, E)
    simple("mentorships", activity, mentorship_rows, W, E)
    simple("training_programmes", activity, programme_rows)
    simple("training_enrolments", activity, enrolment_rows, W, E)
    simple("honour_grants", activity, honour_rows, W, E)
    simple("innovation_achievements", activity, achievement_rows, E)
    t[("workers", "UPDATE")] = [
        people([people_rows("grade_changes", wo, E, -1), people_rows("grade_changes", wn, E, 1)]),
        activity(
            [
                mentorship_rows("mentorships", wo, E, -1),
                mentorship_rows("mentorships", wn, E, 1),
                enrolment_rows("training_enrolments", wo, E, -1),
                enrolment_rows("training_enrolments", wn, E, 1),
                honour_rows("honour_grants", wo, E, -1),
                honour_rows("honour_grants", wn, E, 1),
            ]
        ),
    ]
    t[("enterprises", "UPDATE")] = [
        people(
            [
                people_rows("grade_changes", W, eo, -1, ""),
                people_rows("grade_changes", W, en, 1, ""),
            ]
        ),
        activity(
            [
                mentorship_rows("mentorships", W, eo, -1, ""),
                mentorship_rows("mentorships", W, en, 1, ""),
                enrolment_rows("training_enrolments", W, eo, -1, ""),
                enrolment_rows("training_enrolments", W, en, 1, ""),
                honour_rows("honour_grants", W, eo, -1, ""),
                honour_rows("honour_grants", W, en, 1, ""),
                achievement_rows("innovation_achievements", eo, -1),
                achievement_rows("innovation_achievements", en, 1),
            ]
        ),
    ]
    # competitions
    t[("competitions", "INSERT")] = [competitions([competition_rows("new_rows", 1)])]
    t[("competitions", "DELETE")] = [competitions([competition_rows("old_rows", -1)])]
    t[("competitions", "UPDATE")] = [
        competitions(
            [
                competition_rows("old_rows", -1),
                competition_rows("new_rows", 1),
                entry_rows("entries", co, -1),
                entry_rows("entries", cn, 1),
                participant_rows("entry_members", "entries", co, -1),
                participant_rows("entry_members", "entries", cn, 1),
            ]
        )
    ]
    t[("entries", "INSERT")] = [
        competitions(
            [
                entry_rows("new_rows", "competitions", 1),
                participant_rows("entry_members", "new_rows", "competitions", 1),
            ]
        )
    ]
    t[("entries", "DELETE")] = [
        competitions(
            [
                entry_rows("old_rows", "competitions", -1),
                participant_rows("entry_members", "old_rows", "competitions", -1),
            ]
        )
    ]
    t[("entries", "UPDATE")] = [
        competitions(
            [
                entry_rows("old_rows", "competitions", -1),
                entry_rows("new_rows", "competitions", 1),
                participant_rows("entry_members", no, "competitions", -1),
                participant_rows("entry_members", nn, "competitions", 1),
            ]
        )
    ]
    t[("entry_members", "INSERT")] = [
        competitions([participant_rows("new_rows", "entries", "competitions", 1)])
    ]
    t[("entry_members", "DELETE")] = [
        competitions([participant_rows("old_rows", "entries", "competitions", -1)])
    ]
    t[("entry_members", "UPDATE")] = [
        competitions(
            [
                participant_rows("old_rows", "entries", "competitions", -1),
                participant_rows("new_rows", "entries", "competitions", 1),
            ]
        )
    ]
    # judging
    for table, rel in (("result_entries", 0), ("stage_results", 1), ("stats_judging_stages", 2)):
        rels = ["result_entries", "stage_results", "stats_judging_stages"]

        def at(side: str, rels: list[str] = rels, rel: int = rel) -> list[str]:
            out = list(rels)
            out[rel] = side
            return out

        t[(table, "INSERT")] = [judging([result_rows(*at("new_rows"), 1)])]
        t[(table, "DELETE")] = [judging([result_rows(*at("old_rows"), -1)])]
        t[(table, "UPDATE")] = [
            judging([result_rows(*at("old_rows"), -1), result_rows(*at("new_rows"), 1)])
        ]
    return t


REBUILD = {
    "registry": (
        [PEOPLE, ACTIVITY],
        [
            people([people_rows("grade_changes", "workers", "enterprises", 1)], merge),
            activity(
                [
                    mentorship_rows("mentorships", "workers", "enterprises", 1),
                    programme_rows("training_programmes", 1),
                    enrolment_rows("training_enrolments", "workers", "enterprises", 1),
                    honour_rows("honour_grants", "workers", "enterprises", 1),
                    achievement_rows("innovation_achievements", "enterprises", 1),
                ],
                merge,
            ),
        ],
    ),
    "competitions": (
        [COMPETITIONS],
        [
            competitions(
                [
                    competition_rows("competitions", 1),
                    entry_rows("entries", "competitions", 1),
                    participant_rows("entry_members", "entries", "competitions", 1),
                ],
                merge,
            )
        ],
    ),
    "judging": (
        [JUDGING],
        [
            judging(
                [result_rows("result_entries", "stage_results", "stats_judging_stages", 1)],
                merge,
            )
        ],
    ),
}


COLUMNS = {
    PEOPLE: (PEOPLE_COLS, PEOPLE_VALUES),
    ACTIVITY: (ACTIVITY_COLS, ACTIVITY_VALUES),
    COMPETITIONS: (COMPETITIONS_COLS, ACTIVITY_VALUES),
    JUDGING: (JUDGING_COLS, ACTIVITY_VALUES),
}


def fold(table: str) -> str:
    """Move the pending deltas of `table` into it (the rows deleted are those summed)."""
    cols, values = COLUMNS[table]
    sums = ", ".join(f"sum({v})" for v in values)
    updates = ", ".join(f"{v} = t.{v} + excluded.{v}" for v in values)
    return f"""
WITH moved AS (DELETE FROM {table}_pending RETURNING *)
INSERT INTO {table} AS t (grain, {", ".join(cols)}, {", ".join(values)}, updated_at)
SELECT grain, {", ".join(cols)}, {sums}, max(updated_at) FROM moved
GROUP BY grain, {", ".join(cols)}
ON CONFLICT (grain, {", ".join(cols)}) DO UPDATE SET {updates},
    updated_at = greatest(t.updated_at, excluded.updated_at);
"""


def fact_table(
    name: str,
    cols: list[tuple[str, sa.types.TypeEngine]],
    values: list[tuple[str, sa.types.TypeEngine]],
) -> None:
    op.create_table(
        name,
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        *(sa.Column(c, t, nullable=(c != "month" and c != "measure")) for c, t in cols),
        *(sa.Column(v, t, server_default=sa.text("0"), nullable=False) for v, t in values),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_table(
        f"{name}_pending",
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        *(sa.Column(c, t, nullable=(c != "month" and c != "measure")) for c, t in cols),
        *(sa.Column(v, t, server_default=sa.text("0"), nullable=False) for v, t in values),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        f"uq_{name}_cell",
        name,
        ["grain", *(c for c, _ in cols)],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def trigger_name(table: str, event: str) -> str:
    return f"stats_{table}_{event.lower()}"


def trigger_function(fn: str, statements: list[str]) -> str:
    """The trigger function running `statements` (0063 replaces the statements' form)."""
    body = "\n".join(statements)
    # A statement's rows are few next to the tables they are joined to (a 5,000-row import
    # batch, a million workers): look them up by index. The planner's hash join scanned all
    # workers for every batch (measured: 24 of the trigger's 40 ms at 50,000 workers, growing
    # with the table).
    return (
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql "
        f"SET enable_seqscan = off AS $fn$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND\n$fn$"
    )


def upgrade() -> None:
    text, code, uid, small = sa.Text(), sa.String(6), sa.Uuid(), sa.SmallInteger()
    fact_table(
        PEOPLE,
        [
            ("month", sa.Date()),
            ("locality_code", code),
            ("grade", text),
            ("file_status", text),
            ("industry", text),
            ("sex", text),
            ("birth_year", small),
            ("source", text),
            ("enterprise_id", uid),
            ("occupation", text),
        ],
        [("delta", sa.BigInteger()), ("registered", sa.BigInteger()), ("changes", sa.BigInteger())],
    )
    values = [("value", sa.Numeric(16, 2)), ("people", sa.BigInteger())]
    fact_table(
        ACTIVITY,
        [
            ("measure", text),
            ("month", sa.Date()),
            ("locality_code", code),
            ("category", text),
            ("detail", text),
            ("industry", text),
            ("enterprise_id", uid),
            ("sex", text),
            ("birth_year", small),
            ("occupation", text),
        ],
        values,
    )
    fact_table(
        COMPETITIONS,
        [
            ("measure", text),
            ("month", sa.Date()),
            ("competition_year", small),
            ("organiser_locality_code", code),
            ("level", text),
            ("kind", text),
            ("detail", text),
            ("organiser_enterprise_id", uid),
            ("industry", text),
            ("locality_code", code),
            ("enterprise_id", uid),
        ],
        values,
    )
    op.create_table(
        "stats_judging_stages",
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("competition_id", sa.Uuid(), nullable=False),
        sa.Column("competition_year", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("organiser_locality_code", sa.String(6), nullable=False),
        sa.Column("organiser_enterprise_id", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("stage_id", name=op.f("pk_stats_judging_stages")),
    )
    fact_table(
        JUDGING,
        [
            ("measure", text),
            ("month", sa.Date()),
            ("competition_year", small),
            ("organiser_locality_code", code),
            ("organiser_enterprise_id", uid),
            ("level", text),
            ("kind", text),
            ("locality_code", code),
            ("detail", text),
        ],
        values,
    )
    for (table, event), statements in triggers().items():
        fn = trigger_name(table, event)
        op.execute(trigger_function(fn, statements))
        transition = {
            "INSERT": "NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        op.execute(
            f"CREATE TRIGGER {fn} AFTER {event} ON {table} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
        )
    for service, (tables, statements) in REBUILD.items():
        # One folder or rebuild at a time per service (they would add the same deltas twice).
        lock = f"PERFORM pg_advisory_xact_lock(hashtext('stats_{service}'));"
        deletes = "\n".join(f"DELETE FROM {t}; DELETE FROM {t}_pending;" for t in tables)
        op.execute(
            f"CREATE FUNCTION stats_rebuild_{service}() RETURNS void LANGUAGE plpgsql AS $fn$\n"
            f"BEGIN\n{lock}\n{deletes}\n{chr(10).join(statements)}\nEND\n$fn$"
        )
        folds = "\n".join(fold(t) for t in tables)
        op.execute(
            f"CREATE FUNCTION stats_fold_{service}() RETURNS boolean LANGUAGE plpgsql AS $fn$\n"
            f"BEGIN\nIF NOT pg_try_advisory_xact_lock(hashtext('stats_{service}')) THEN\n"
            f"RETURN false;\nEND IF;\n{folds}\nRETURN true;\nEND\n$fn$"
        )
        # Existing data: the summaries start complete.
        op.execute(f"SELECT stats_rebuild_{service}()")


def downgrade() -> None:
    for service in REBUILD:
        op.execute(f"DROP FUNCTION stats_rebuild_{service}()")
        op.execute(f"DROP FUNCTION stats_fold_{service}()")
    for table, event in triggers():
        fn = trigger_name(table, event)
        op.execute(f"DROP TRIGGER {fn} ON {table}")
        op.execute(f"DROP FUNCTION {fn}()")
    for table in (JUDGING, "stats_judging_stages", COMPETITIONS, ACTIVITY, PEOPLE):
        op.drop_table(table)
        if table in COLUMNS:
            op.drop_table(f"{table}_pending")
