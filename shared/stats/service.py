"""From requests to the response shapes: scope of a principal, figures, trends, vocabulary."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal, Role
from shared.errors import FieldError, InvalidInput
from shared.scope import PROVINCE
from shared.stats import engine, schemas
from shared.stats import periods as P
from shared.stats.vocabulary import CITIES, DIMENSIONS, MEASURES, Measure, city_of, measures_of


def scope_of(principal: Principal) -> engine.Scope:
    """Admins and machine clients see the province; an organiser its locality subtree or its
    enterprise (the same rule as `shared.scope.covers`)."""
    if principal.role is Role.organiser:
        if principal.enterprise_id is not None:
            return engine.Scope(
                f"企业 {principal.enterprise_id}", enterprise_id=principal.enterprise_id
            )
        code = principal.locality_code or ""
        if code and code != PROVINCE:
            name = CITIES.get(code) or f"{CITIES.get(city_of(code), '')}{code}"
            return engine.Scope(name, locality_code=code)
    return engine.Scope(CITIES[PROVINCE], locality_code=PROVINCE)


def describe_measure(service: str, name: str) -> Measure:
    measure = measures_of(service).get(name)
    if measure is None:
        owner = MEASURES[name].service if name in MEASURES else None
        hint = f" (served by the {owner} service)" if owner else ""
        raise InvalidInput(
            f"No measure {name!r} here{hint}.",
            errors=[
                FieldError(field="measure", message=f"one of {', '.join(measures_of(service))}")
            ],
        )
    return measure


def measure_info(m: Measure) -> schemas.MeasureInfo:
    return schemas.MeasureInfo(
        name=m.name,
        label=m.label,
        description=m.description,
        service=m.service,
        kind=m.kind.value,
        unit=m.unit,
        people=m.people_column is not None,
        dimensions=list(m.dims),
    )


def vocabulary(service: str, threshold: int) -> schemas.Vocabulary:
    return schemas.Vocabulary(
        measures=[measure_info(m) for m in measures_of(service).values()],
        dimensions=[
            schemas.DimensionInfo(
                name=d.name, label=d.label, description=d.description, members=dict(d.labels)
            )
            for d in DIMENSIONS.values()
        ],
        threshold=threshold,
    )


def period_info(p: P.Period) -> schemas.PeriodInfo:
    return schemas.PeriodInfo(
        key=p.key, label=p.label, start=p.start, end=P.month_start(p.last + 1) - timedelta(days=1)
    )


def scope_info(scope: engine.Scope) -> schemas.ScopeInfo:
    return schemas.ScopeInfo(
        label=scope.label,
        locality_code=scope.locality_code,
        enterprise_id=str(scope.enterprise_id) if scope.enterprise_id else None,
    )


def labels(result: engine.Result) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for d in result.request.by:
        known = DIMENSIONS[d].labels
        out[d] = {m: known.get(m, m) for m in result.members.get(d, [])}
    return out


async def figure(session: AsyncSession, req: engine.Request) -> schemas.Figure:
    result = await engine.compute(session, req)
    period = req.periods[0]
    cells = []
    for dims in result.combinations():
        value, hidden = result.cell(period, dims)
        cells.append(schemas.Cell(dims=dims, value=value, suppressed=hidden))
    return schemas.Figure(
        measure=measure_info(req.measure),
        by=req.by,
        filters=req.filters,
        period=period_info(period),
        scope=scope_info(req.scope),
        threshold=req.threshold,
        freshness=result.freshness,
        labels=labels(result),
        cells=cells,
    )


async def trend(session: AsyncSession, req: engine.Request) -> schemas.Trend:
    shown = list(req.periods)
    # A year more, for the year-on-year change of the first points.
    back = 12 // shown[0].months
    req.periods = [shown[0].shift(-back + i) for i in range(back)] + shown
    result = await engine.compute(session, req)
    series = []
    for dims in result.combinations():
        points = []
        for p in shown:
            value, hidden = result.cell(p, dims)
            before, _ = result.cell(p.year_before(), dims)
            change = value - before if value is not None and before is not None else None
            percent = None
            if change is not None and before:
                percent = (change * 100 / before).quantize(Decimal("0.1"), ROUND_HALF_UP)
            points.append(
                schemas.Point(
                    period=p.key,
                    label=p.label,
                    value=value,
                    suppressed=hidden,
                    previous_year=before,
                    yoy_change=change,
                    yoy_percent=percent,
                )
            )
        series.append(schemas.Series(dims=dims, points=points))
    req.periods = shown
    return schemas.Trend(
        measure=measure_info(req.measure),
        interval=shown[0].interval.value,
        by=req.by,
        filters=req.filters,
        periods=[period_info(p) for p in shown],
        scope=scope_info(req.scope),
        threshold=req.threshold,
        freshness=result.freshness,
        labels=labels(result),
        series=series,
    )
