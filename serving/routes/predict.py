"""POST /v1/predict: one code path for one post and for a batch."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from model.records import Post
from serving.auth import allow_predict
from serving.deps import MetricsDep, PredictorDep, SettingsDep
from serving.limits import problem
from serving.schemas import PredictRequest, PredictResponse, Problem
from serving.validation import text_problem

router = APIRouter(prefix="/v1", tags=["prediction"])


def input_problems(
    body: PredictRequest, max_posts: int, max_chars: int, regions: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Rules that depend on settings or on the model, checked before any post is scored."""
    out = []
    if len(body.posts) > max_posts:
        out.append(problem(["body", "posts"], f"{len(body.posts)} posts in one request; the limit is {max_posts}"))
    counts = Counter(p.id for p in body.posts)
    for i, post in enumerate(body.posts):
        if counts[post.id] > 1:
            out.append(problem(["body", "posts", i, "id"], f"duplicate id {post.id!r} in this request"))
        if (wrong := text_problem(post.text, max_chars)) is not None:
            out.append(problem(["body", "posts", i, "text"], wrong))
        if post.region is not None and post.region not in regions:
            out.append(problem(["body", "posts", i, "region"],
                               f"unknown region {post.region!r}; known regions: {', '.join(regions)}"))
    return out


@router.post(
    "/predict",
    response_model=PredictResponse,
    dependencies=[Depends(allow_predict)],
    responses={413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}},
    summary="Классифицировать посты: релевантность, тема, ведомство, муниципалитет",
)
async def predict(
    body: PredictRequest, predictor: PredictorDep, settings: SettingsDep, metrics: MetricsDep
) -> dict[str, Any]:
    problems = input_problems(body, settings.max_posts, settings.max_text_chars, predictor.regions)
    if problems:
        raise HTTPException(422, problems)
    posts = [Post(id=p.id, text=p.text, network=p.network, region=p.region) for p in body.posts]
    predictions = await run_in_threadpool(predictor.predict, posts)
    for p in predictions:
        metrics.predictions.labels(p.topic.label, str(bool(p.relevant.label)).lower()).inc()
    return {"model": predictor.bundle.id, "predictions": [p.to_json() for p in predictions]}
