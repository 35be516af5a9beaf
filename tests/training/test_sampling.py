"""Active learning on the real model: the sample is uncertain and diverse, not one confusing kind 5 times."""

from __future__ import annotations

import pytest

from model.bundle import Bundle
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.records import Post
from training.sampling import sample, uncertainty

STREETS = ["Парковой", "Кирова", "Лесной", "Школьной", "Пушкина", "Победы", "Мира", "Гагарина"]
# One confusing kind, many times: the model is least sure of exactly these (near its relevance threshold).
SAME_KIND = [f"Продают просроченные продукты в магазине на {street}" for street in STREETS]
# Other confusions, one of each.
OTHER_KINDS = [
    "В бассейне грязная вода, дети болеют",
    "На колонке в деревне Ключи нет воды неделю",
    "Вышка сотовой связи у дома, боимся излучения",
    "Пустырь у школы зарос борщевиком в два метра",
    "Аптека в поселке закрылась, за лекарствами ехать 40 км",
]
# Posts the model is sure of.
CLEAR = ["Яма на дороге у школы в Чусовом, машины бьют колёса", "Доброе утро всем, кто уже проснулся",
         "Мусор не вывозят вторую неделю, контейнеры переполнены", "Продаю велосипед, почти новый, недорого",
         "Третий день батареи холодные в Березниках, УК трубку не берёт", "С днём рождения, мама!",
         "Не горят фонари во дворе, вечером страшно идти", "Какая сегодня красивая погода"]


# The corpus-only model: the uncertain kinds below are its weaknesses.
@pytest.fixture(scope="module")
def predictor(corpus_only_bundle: Bundle, lemmatizer: Lemmatizer) -> Predictor:
    return Predictor(corpus_only_bundle, lemmatizer)


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    texts = SAME_KIND + OTHER_KINDS + CLEAR
    return [Post(id=f"p{i:02d}", text=t, network="vk") for i, t in enumerate(texts)]


def test_the_sample_covers_several_kinds_where_plain_uncertainty_takes_one(predictor: Predictor,
                                                                           posts: list[Post]) -> None:
    by_uncertainty = sorted(posts, key=lambda p: -uncertainty(predictor.predict([p], explain=False)[0]))
    plain = [p.text for p in by_uncertainty[:4]]  # what a plain top-4 would label: mostly the one kind
    assert sum(t in SAME_KIND for t in plain) >= 3, plain
    chosen = sample(predictor, posts, 4, pool=4)
    texts = [c.post.text for c in chosen]
    assert len(texts) == 4 == len(set(texts))
    assert sum(t in SAME_KIND for t in texts) <= 2, texts
    assert sum(t in OTHER_KINDS for t in texts) >= 2, texts
    # diversity never buys a post from outside the pool of the 4 x 4 most uncertain
    assert set(texts) <= {p.text for p in by_uncertainty[:16]}
    assert [c.uncertainty for c in chosen] == sorted((c.uncertainty for c in chosen), reverse=True)
    assert len({c.cluster for c in chosen}) == 4


def test_rows_are_ready_for_labelling(predictor: Predictor, posts: list[Post]) -> None:
    row = sample(predictor, posts, 3)[0].to_json()
    assert set(row) == {"id", "text", "network", "relevant", "topic", "agency", "municipality", "split",
                        "suggested", "uncertainty", "cluster"}
    assert row["relevant"] is row["topic"] is row["agency"] is row["municipality"] is None
    assert row["split"] == "train" and row["network"] == "vk"
    suggested = row["suggested"]
    assert suggested["model"] == predictor.bundle.id
    assert suggested["topic"] and all(isinstance(code, str) for code, _ in suggested["topic"])
    assert 0 <= row["uncertainty"] <= 1


def test_fewer_posts_than_asked_are_all_returned_and_the_same_input_gives_the_same_sample(
    predictor: Predictor, posts: list[Post]
) -> None:
    assert {c.post.id for c in sample(predictor, posts[:3], 10)} == {p.id for p in posts[:3]}
    assert [c.post.id for c in sample(predictor, posts, 4)] == [c.post.id for c in sample(predictor, posts, 4)]
    with pytest.raises(ValueError, match="at least 1"):
        sample(predictor, posts, 0)
