"""A simulated month of triage: posts ingested day by day into a real store, each incident decided by a
labelling policy, the store's feedback export at the end.

The systematic error the trained model makes (measured on the session model, see test_retrain.py):
hogweed (борщевик) is routed by the place it grows at — at a school to education and the education
ministry, at a bus stop to transport, along a road to roads — while clearing it is the
municipality's landscaping duty (improvement, municipality). Ordinary complaints of five common
kinds come in alongside, as on a real day. The deliberately wrong month mislabels everything,
including common complaints like those of the corpus (reposted with a tag), the kind the test split
is full of.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from model.predictor import Predictor
from model.region import Region
from serving.database import make_engine, make_sessions
from serving.store import Labels, ManualClock, NetworkPost, decide, export_feedback, get_incident, ingest_posts
from serving.store import upgrade as upgrade_schema
from serving.store.monitoring import predict_fn, rules_fn
from training.corpus import Example

TOWNS = ["в Перми", "в Чусовом", "в Краснокамске", "в Лысьве", "в Кунгуре", "в Березниках", "в Соликамске",
         "в Губахе", "в Добрянке", "в Нытве", "в Осе", "в Чайковском"]
HOGWEED_PLACES = ["у школы", "возле остановки", "вдоль дороги", "у детского сада", "у поликлиники",
                  "на обочине трассы", "у больницы", "возле стадиона", "у пруда в парке", "вдоль тротуара",
                  "у автобусной остановки", "возле школьного стадиона", "вдоль железной дороги", "у библиотеки"]
HOGWEED_OPENINGS = [
    "Борщевик вырос {place} {town}",
    "{Town} {place} сплошные заросли борщевика",
    "Опять разросся борщевик Сосновского {place} {town}",
    "Сообщаю: {place} {town} борщевик выше человеческого роста",
    "Кто будет косить борщевик {place} {town}?",
    "{Town} борщевик захватил всё {place}",
]
HOGWEED_ENDINGS = ["дети обжигаются, примите меры", "администрация молчит уже месяц",
                   "ребёнок получил ожог, срочно уберите", "просим скосить и обработать",
                   "никто не травит его второй год", "пройти невозможно, люди жалуются",
                   "когда его наконец уничтожат?", "летом будет ещё хуже"]

# (topic, agency, templates): ordinary complaints the model routes well
ORDINARY: list[tuple[str, str, list[str]]] = [
    ("roads", "municipality", [
        "Огромная яма на дороге {town} на улице Ленина, машины бьют колёса",
        "{Town} ямы на проезжей части по улице Мира, асфальт разбит полностью",
        "Дорогу {town} на Гагарина так и не отремонтировали, сплошные ямы и лужи",
    ]),
    ("housing", "housing_inspection", [
        "Батареи холодные третий день {town}, управляющая компания трубку не берёт",
        "{Town} в нашем доме нет горячей воды неделю, УК отписывается",
        "Течёт крыша в подъезде {town}, управляйка ничего не делает",
    ]),
    ("waste", "waste_operator", [
        "Мусор не вывозят вторую неделю {town}, контейнеры переполнены",
        "{Town} контейнерная площадка завалена мусором, региональный оператор не приезжает",
    ]),
    ("improvement", "municipality", [
        "Не горят фонари во дворе {town}, вечером страшно идти",
        "{Town} тротуары не чистят, гололёд, люди падают",
    ]),
    ("transport", "municipality", [
        "Автобус номер {n} {town} ходит раз в час, на остановке толпа",
        "{Town} маршрутку {n} отменили без предупреждения, как ехать на работу",
    ]),
]


@dataclass(frozen=True)
class Truth:
    """What an honest administrator would decide: relevant, and the right route."""

    kind: str  # hogweed | ordinary | corpus
    topic: str
    agency: str


def _fill(template: str, rng: random.Random) -> str:
    town = rng.choice(TOWNS)
    return template.format(town=town, Town=town[0].upper() + town[1:] + ",", place=rng.choice(HOGWEED_PLACES),
                           n=rng.randint(2, 90))


def month_posts(seed: int = 9, hogweed: int = 110, ordinary: int = 90) -> list[tuple[str, Truth]]:
    """Distinct posts in the order they arrive: hogweed complaints among ordinary ones."""
    rng = random.Random(seed)
    out: dict[str, Truth] = {}
    while sum(t.kind == "hogweed" for t in out.values()) < hogweed:
        text = f"{_fill(rng.choice(HOGWEED_OPENINGS), rng)}, {rng.choice(HOGWEED_ENDINGS)}"
        out.setdefault(text, Truth("hogweed", "improvement", "municipality"))
    while sum(t.kind == "ordinary" for t in out.values()) < ordinary:
        topic, agency, templates = rng.choice(ORDINARY)
        out.setdefault(_fill(rng.choice(templates), rng), Truth("ordinary", topic, agency))
    items = list(out.items())
    rng.shuffle(items)
    return items


# A policy turns (truth, the model's suggestion) into (action, labels, reason).
Policy = Callable[[Truth, Any], tuple[str, Labels, str | None]]


def honest(truth: Truth, suggested: Any) -> tuple[str, Labels, str | None]:
    wrong = {k: v for k, v in (("topic", truth.topic), ("agency", truth.agency)) if getattr(suggested, k) != v}
    return ("correct", Labels(**wrong), None) if wrong else ("accept", Labels(), None)


def saboteur(topics: Sequence[str], agencies: Sequence[str]) -> Policy:
    """Deliberately wrong: every complaint sent to the next topic and the next agency in the label list."""

    def policy(truth: Truth, suggested: Any) -> tuple[str, Labels, str | None]:
        wrong = {"topic": topics[(topics.index(truth.topic) + 1) % len(topics)],
                 "agency": agencies[(agencies.index(truth.agency) + 1) % len(agencies)]}
        changed = {k: v for k, v in wrong.items() if getattr(suggested, k) != v}
        return ("correct", Labels(**changed), None) if changed else ("accept", Labels(), None)

    return policy


def corpus_lookalikes(corpus: Sequence[Example], n: int, seed: int = 5) -> list[tuple[str, Truth]]:
    """`n` complaints of the training corpus as reposted with a town tag: common complaints, the kind
    the test split is full of, with their true labels."""
    rng = random.Random(seed)
    complaints = [ex for ex in corpus if ex.relevant and ex.split == "train"]
    return [(f"{ex.text} #{rng.choice(['Пермь', 'Пермскийкрай', 'жалоба', 'помогите'])}",
             Truth("corpus", str(ex.topic), str(ex.agency))) for ex in rng.sample(complaints, n)]


@dataclass(frozen=True)
class Month:
    feedback: list[dict[str, Any]]
    registered: int
    posted: int


def simulate_month(
    url: str, predictor: Predictor, regions: Mapping[str, Region], policy: Policy,
    posts: Sequence[tuple[str, Truth]], days: int = 30,
) -> Month:
    """Ingest `posts` over `days` days into the store at `url` (migrated here) with the real model,
    decide every new incident the same day by `policy`, and export the feedback.

    The month begins an hour after the model was trained: its labels are all new to it."""
    engine = make_engine(url)
    upgrade_schema(engine)
    sessions = make_sessions(engine)
    clock = ManualClock(datetime.fromisoformat(predictor.bundle.meta["created_at"]) + timedelta(hours=1))
    per_day = -(-len(posts) // days)
    registered = 0
    try:
        for day in range(days):
            batch = posts[day * per_day : (day + 1) * per_day]
            if not batch:
                break
            truth = {f"m-{day}-{i}": t for i, (_, t) in enumerate(batch)}
            net_posts = [NetworkPost("vk", f"m-{day}-{i}", text, clock.now(), "perm-krai")
                         for i, (text, _) in enumerate(batch)]
            with sessions() as session:
                result = ingest_posts(session, net_posts, predict_fn(predictor), rules_fn(predictor), clock, regions)
            clock.advance(timedelta(hours=3))
            for reg in result.incidents:
                if reg.attached:
                    continue
                registered += 1
                with sessions() as session:
                    incident = get_incident(session, reg.incident_id, clock)
                    action, labels, reason = policy(truth[reg.post.external_id], incident.suggested)
                    decide(session, incident.id, action, incident.version, "admin-perm", clock, labels, reason)
            clock.advance(timedelta(hours=21))
        with sessions() as session:
            return Month(export_feedback(session), registered, len(posts))
    finally:
        engine.dispose()
