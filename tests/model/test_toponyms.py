"""Toponyms → municipality: every form of a name, places inside a municipality, demonyms, the
region that is not a city, the wasp that is not a town, and posts that name several places."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.doc import Doc, analyze
from model.lemma import Lemmatizer
from model.region import Region
from model.toponyms import Gazetteer, Place

PERM = "57701000"
BEREZNIKI = "57708000"
SOLIKAMSK = "57730000"
CHAIKOVSKY = "57735000"
KUNGUR = "57722000"
LYSVA = "57726000"
KRASNOKAMSK = "57720000"
CHUSOVOY = "57758000"
DOBRYANKA = "57718000"
GUBAKHA = "57717000"
OSA = "57728000"
OCHER = "57762000"
GORNOZAVODSK = "57714000"
ILYINSKY = "57759000"
SUKSUN = "57731000"
KISHERT = "57524000"
OKTYABRSKY = "57761000"
BEREZOVSKY = "57506000"

Find = Callable[..., Place | None]


@pytest.fixture(scope="module")
def gazetteer(perm: Region, lemmatizer: Lemmatizer) -> Gazetteer:
    return Gazetteer(perm, lemmatizer)


@pytest.fixture(scope="module")
def find(gazetteer: Gazetteer, lemmatizer: Lemmatizer) -> Find:
    """Raw post text (+ whether to pass it as the original) -> the Place found."""

    def run(text: str, original: bool = True) -> Place | None:
        [doc] = analyze([text], lemmatizer)
        return gazetteer.find(doc, text if original else None)

    return run


def code(place: Place | None) -> str | None:
    return place.oktmo if place else None


@pytest.mark.parametrize(
    ("text", "oktmo"),
    [
        # the municipality's own name in every case
        ("в Березниках опять нет горячей воды", BEREZNIKI),
        ("Березники, ул. Мира 5 — крыша течет", BEREZNIKI),
        ("еду из Соликамска, дорога ужас", SOLIKAMSK),
        ("по Краснокамску не проехать после снегопада", KRASNOKAMSK),
        ("дороги Чусового разбиты", CHUSOVOY),
        ("в Чусовом опять задержали выплаты", CHUSOVOY),
        ("у нас в Лысьве в травмпункте никого", LYSVA),
        ("Лысьвой никто не занимается", LYSVA),
        ("в Перми опять пробки", PERM),
        ("Пермью гордимся, но дороги ужас", PERM),
        ("в Кунгуре снова ямы", KUNGUR),
        ("в Очере закрыли стационар", OCHER),
        ("в Чайковском нет воды", CHAIKOVSKY),
        ("из Чайковского в Пермь автобус отменили", CHAIKOVSKY),
        ("в Губахе отключили свет", GUBAKHA),
        # city districts and settlements inside a municipality
        ("на Гайве ямы на каждом шагу", PERM),
        ("в Мотовилихе не горят фонари", PERM),
        ("Закамск без воды третий день", PERM),
        ("в Кислотных дачах воняет", PERM),
        ("на Вышке-2 снег не убирают", PERM),
        ("в Свердловском районе нет света", PERM),
        ("Усолье опять без света", BEREZNIKI),
        ("в Усолье закрыли баню", BEREZNIKI),
        ("в Полазне нет горячей воды", DOBRYANKA),
        ("из Чермоза не уехать", ILYINSKY),
        ("Кын остался без связи", LYSVA),
        ("в Оверятах снова отключили свет", KRASNOKAMSK),
        ("на Теплой Горе дорогу замело", GORNOZAVODSK),
        # formations named after a village or work settlement
        ("в Суксуне нет воды", SUKSUN),
        ("из Суксуна в Кунгур автобус отменили", SUKSUN),
        ("на Верх-Суксуне темно", SUKSUN),
        ("из Усть-Кишерти не уехать", KISHERT),
        ("в Молёбке нет фельдшера", KISHERT),
        ("в Кишертском округе нет связи", KISHERT),
        ("в Сарсе нет газа", OKTYABRSKY),
        ("п. Октябрьский, ул. Ленина — яма", OKTYABRSKY),
        ("в Октябрьском опять нет воды", OKTYABRSKY),
        ("в Березовском муниципальном округе закрыли школу", BEREZOVSKY),
        ("в Березовском районе дорога разбита", BEREZOVSKY),
        # demonyms and adjectives
        ("пермяки, кто знает куда жаловаться", PERM),
        ("березниковцы, у кого опять вырубило свет?", BEREZNIKI),
        ("соликамцы, воды нет ни у кого?", SOLIKAMSK),
        ("кунгурские дороги — это отдельный вид экстрима", KUNGUR),
        ("лысьвенский автобус опять сломался", LYSVA),
        ("в добрянском ДК сделали платный утренник", DOBRYANKA),
        ("березниковцы-многодетные, участки так и не выделили", BEREZNIKI),
        ("суксунцы, у кого нет света?", SUKSUN),
        ("кишертская больница опять без врача", KISHERT),
        # hashtags
        ("ямы на дорогах #Березники", BEREZNIKI),
    ],
)
def test_forms_of_names(find: Find, text: str, oktmo: str) -> None:
    assert code(find(text)) == oktmo
    assert code(find(text, original=False)) == oktmo


@pytest.mark.parametrize(
    "text",
    [
        "оса укусила ребенка на площадке",
        "Оса укусила ребенка на площадке",
        "ОСА УКУСИЛА РЕБЕНКА",
        "гнездо ос под крышей, кто уберет?",
        "на вышке сотовой связи нет сигнала",
        "майские праздники, а воды нет",
        "мы висим на телефоне третий час",
        "У нас в садовом товариществе провода провисли",
        "ямы на Ленина, ул. Мира тоже",
        "октябрьские праздники, а воды нет",
        "на Октябрьской улице яма",
        "Октябрьский проспект весь в ямах",
        "в Октябрьском сквере опять пьют до ночи",
        "у Октябрьского моста пробка третий час",
        "в Октябрьском микрорайоне нет света",
    ],
)
def test_common_words_that_are_also_names_are_no_place(find: Find, text: str) -> None:
    assert find(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "в Осе нет воды третью неделю",
        "г. Оса, ул. Свердлова",
        "из Осы в Пермь автобус раз в день",
        "Оса. На рынке нет туалета",
        "Жители Осы просят отремонтировать мост",
    ],
)
def test_the_town_of_osa(find: Find, text: str) -> None:
    assert code(find(text)) == OSA


def test_berezovsky_of_sverdlovsk_oblast_is_not_the_perm_okrug(find: Find) -> None:
    # Only the okrug's own names count: the bare adjective is also a town near Yekaterinburg.
    assert find("в Березовском нет воды, мэрия молчит") is None
    assert code(find("Березовский округ Пермского края: дорогу не чистят")) == BEREZOVSKY


def test_a_surname_is_no_town_when_written_as_one(find: Find) -> None:
    assert find("Вчера слушали музыку Чайковского в филармонии") is None
    assert code(find("Уважаемая администрация Чайковского! Площадка не убрана")) == CHAIKOVSKY


@pytest.mark.parametrize(
    "text",
    [
        "Пермский край — лучший край",
        "в Пермском крае опять подняли тарифы",
        "по Пермскому краю идет снегопад",
        "Прикамье без дорог",
        "в Пермском районе закрыли школу",
        "в Пермском муниципальном округе нет автобуса",
    ],
)
def test_the_region_is_not_the_city_of_perm(find: Find, text: str) -> None:
    assert find(text) is None


def test_the_region_and_a_municipality(find: Find) -> None:
    place = find("Пермский край, Березники: провалы под домами")
    assert place is not None
    assert place == Place(BEREZNIKI, "Березники", place.spans, ())


def test_the_most_mentioned_wins_and_the_others_are_listed(find: Find) -> None:
    place = find("живу в Перми, но пишу про Березники: в Березниках нет воды, Березники забыли")
    assert place is not None
    assert (place.oktmo, place.name, place.others) == (BEREZNIKI, "Березники", (PERM,))
    assert len(place.spans) == 3


def test_a_settlement_beats_a_name_on_a_tie(find: Find) -> None:
    place = find("из Перми приехали на дачу в Полазну, дорога не чищена")
    assert place is not None
    assert (place.oktmo, place.others) == (DOBRYANKA, (PERM,))


def test_where_people_go_counts_less_than_where_they_are(find: Find) -> None:
    text = "В Очере сократили стационар, везут в Пермь, а в Пермь мама ехать боится"
    assert code(find(text)) == OCHER


def test_a_hashtag_counts_less_than_the_text(find: Find) -> None:
    place = find("#Пермь в Кунгуре опять ямы")
    assert place is not None
    assert (place.oktmo, place.others) == (KUNGUR, (PERM,))


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("в Березниках и Усолье", ["березниках", "усолье"]),
        ("на Теплой Горе", ["теплой горе"]),
        ("трасса Пермь-Березники, в Березниках ямы", ["березники", "березниках"]),
    ],
)
def test_spans_point_into_the_normalized_text(
    gazetteer: Gazetteer, lemmatizer: Lemmatizer, text: str, mentions: list[str]
) -> None:
    [doc] = analyze([text], lemmatizer)
    place = gazetteer.find(doc, text)
    assert place is not None
    found = [doc.text[start:end] for start, end in place.spans]
    assert found == mentions


def test_batch_is_the_same_as_one_by_one(gazetteer: Gazetteer, lemmatizer: Lemmatizer) -> None:
    texts = ["в Березниках нет воды", "оса укусила", "Пермский край", "на Гайве темно"]
    docs = analyze(texts, lemmatizer)
    assert gazetteer.find_all(docs, texts) == [gazetteer.find(d, t) for d, t in zip(docs, texts, strict=True)]
    assert gazetteer.find_all(docs) == [gazetteer.find(d) for d in docs]
    with pytest.raises(ValueError):
        gazetteer.find_all(docs, texts[:2])


def test_pickles(gazetteer: Gazetteer, lemmatizer: Lemmatizer) -> None:
    again = pickle.loads(pickle.dumps(gazetteer))
    [doc] = analyze(["в Соликамске опять воняет"], lemmatizer)
    assert again.find(doc) == gazetteer.find(doc)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("в Нижнем Тагиле нет воды", "Нижний Тагил"),
        ("из Екб в Тагил автобус отменили, в Тагиле все ждут", "Нижний Тагил"),
        ("на Уралмаше не горят фонари", "Екатеринбург"),
        ("в Каменске-Уральском закрыли поликлинику", "Каменск-Уральский"),
        ("в Асбесте снова пыль", "Асбест"),
        ("асбест в крыше школы", None),
        ("в Свердловской области опять снег", None),
    ],
)
def test_another_region(
    regions: dict[str, Region], lemmatizer: Lemmatizer, text: str, name: str | None
) -> None:
    gazetteer = Gazetteer(regions["sverdlovsk-oblast"], lemmatizer)
    [doc] = analyze([text], lemmatizer)
    place = gazetteer.find(doc, text)
    assert (place.name if place else None) == name


# Social text: Cyrillic and Latin letters (any case), digits, punctuation, emoji, line breaks.
_ALPHABET = (
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
    "abcxyzABCXYZ0123456789 .,!?-—#@()\n😡👍"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200))
def test_never_raises(gazetteer: Gazetteer, lemmatizer: Lemmatizer, text: str) -> None:
    [doc] = analyze([text], lemmatizer)
    for original in (text, None, "другой текст совсем"):
        place = gazetteer.find(doc, original)
        assert place is None or isinstance(place, Place)


def test_empty_doc(gazetteer: Gazetteer) -> None:
    assert gazetteer.find(Doc("", (), ())) is None
