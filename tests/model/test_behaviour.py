"""Behaviour of the trained model on Russian phrases written for these tests (Made-With-ML style).

Three kinds of checks: invariance (a change that must not matter does not change the topic),
direction (a change that must matter moves the prediction the right way) and minimum
functionality (plain complaints and plain non-complaints). None of the phrases is taken from
`annotations/corpus` (`test_phrases_are_not_from_the_corpus` keeps it so): they measure how the
model generalizes, not what it memorized.

Cases that the current model gets wrong stay in the tables as strict xfails with the measured
scores in the reason: the model is expected to learn them, and an XPASS says it has.
"""

from __future__ import annotations

from typing import Any

import pytest

from model.predictor import Predictor
from model.records import Post, Prediction
from model.region import Region
from tests.conftest import ANNOTATIONS
from training.corpus import Example, near_duplicates, read_corpus


def predict(predictor: Predictor, text: str) -> Prediction:
    [prediction] = predictor.predict([Post(id="behaviour", text=text)], explain=False)
    return prediction


def table(rows: list[tuple[str, ...]]) -> list[Any]:
    """(topic, text[, why it fails]) rows -> params with readable ids; a third field marks a known failure."""
    seen: dict[str, int] = {}
    out = []
    for topic, text, *failure in rows:
        seen[topic] = seen.get(topic, 0) + 1
        marks = [pytest.mark.xfail(strict=True, reason=f"known model failure: {failure[0]}")] if failure else []
        out.append(pytest.param(topic, text, marks=marks, id=f"{topic}-{seen[topic]}"))
    return out


# --- invariance -------------------------------------------------------------------------------------

# (topic, clear complaint, the same complaint with a change that must not matter)
TYPOS = [
    ("housing", "Из крана течёт ржавая вода, управляйка на звонки не отвечает",
     "Из крана течот ржавая вада, управляйка на звонки не атвечает"),
    ("roads", "На дороге возле остановки огромная яма, уже два колеса пробили",
     "На дароге возле астановки огромная ямма, уже два колеса прабили"),
    ("improvement", "На нашей улице не горит ни один фонарь, вечером идти страшно",
     "На нашей улице не горит ни один фанарь, вечиром идти страшно"),
    ("health", "В поликлинике невозможно записаться к терапевту, талонов нет на месяц вперёд",
     "В паликлинике невозможно записатся к терапефту, талонов нет на месяц вперёд"),
    ("power", "Третий раз за неделю отключают свет, холодильник уже сгорел",
     "Третий раз за неделю отключают свет, халадильник уже згорел"),
    ("gas", "В подъезде сильно пахнет газом, аварийка не едет",
     "В подезде сильна пахнет газам, аварийка не едет"),
]
SURFACE = [  # ё/е, CAPS, emoji, hashtags: the normalizer's job
    ("housing", "Из крана течёт ржавая вода, управляйка на звонки не отвечает",
     "Из крана течет ржавая вода, управляйка на звонки не отвечает"),
    ("waste", "Регоператор выставил счёт за вывоз мусора, хотя у нас его никто не вывозит",
     "Регоператор выставил счет за вывоз мусора, хотя у нас его никто не вывозит"),
    ("education", "Ребёнку не дают место в детском саду, очередь не двигается два года",
     "Ребенку не дают место в детском саду, очередь не двигается два года"),
    ("construction", "Мы дольщики, дом должны были сдать три года назад, застройщик исчез",
     "Мы дольщики, дом должны были сдать три года назад, застройщик исчёз"),
    ("housing", "Батареи в квартире ледяные уже неделю, дети спят в куртках",
     "БАТАРЕИ В КВАРТИРЕ ЛЕДЯНЫЕ УЖЕ НЕДЕЛЮ, ДЕТИ СПЯТ В КУРТКАХ"),
    ("roads", "На дороге возле остановки огромная яма, уже два колеса пробили",
     "НА ДОРОГЕ ВОЗЛЕ ОСТАНОВКИ ОГРОМНАЯ ЯМА, УЖЕ ДВА КОЛЕСА ПРОБИЛИ"),
    ("health", "В поликлинике невозможно записаться к терапевту, талонов нет на месяц вперёд",
     "В ПОЛИКЛИНИКЕ НЕВОЗМОЖНО ЗАПИСАТЬСЯ К ТЕРАПЕВТУ, ТАЛОНОВ НЕТ НА МЕСЯЦ ВПЕРЁД"),
    ("telecom", "В деревне нет мобильной связи, чтобы позвонить, надо идти на холм",
     "В ДЕРЕВНЕ НЕТ МОБИЛЬНОЙ СВЯЗИ, ЧТОБЫ ПОЗВОНИТЬ, НАДО ИДТИ НА ХОЛМ"),
    ("roads", "На дороге возле остановки огромная яма, уже два колеса пробили",
     "На дороге возле остановки огромная яма, уже два колеса пробили 😡😡"),
    ("improvement", "На нашей улице не горит ни один фонарь, вечером идти страшно",
     "На нашей улице не горит ни один фонарь, вечером идти страшно 😱"),
    ("waste", "Контейнеры переполнены, мусор не вывозят уже десять дней, крысы бегают",
     "Контейнеры переполнены, мусор не вывозят уже десять дней, крысы бегают 🤮🐀"),
    ("social", "Детские пособия не приходят уже третий месяц, в соцзащите отвечают отписками",
     "Детские пособия не приходят уже третий месяц, в соцзащите отвечают отписками 😢"),
    ("housing", "Батареи в квартире ледяные уже неделю, дети спят в куртках",
     "Батареи в квартире ледяные уже неделю, дети спят в куртках #беспредел #доколе"),
    ("improvement", "На нашей улице не горит ни один фонарь, вечером идти страшно",
     "На нашей улице не горит ни один фонарь, вечером идти страшно #помогите"),
    ("education", "Ребёнку не дают место в детском саду, очередь не двигается два года",
     "Ребёнку не дают место в детском саду, очередь не двигается два года #детсад"),
    ("telecom", "В деревне нет мобильной связи, чтобы позвонить, надо идти на холм",
     "В деревне нет мобильной связи, чтобы позвонить, надо идти на холм #связь #деревня"),
]


def ids(rows: list[tuple[str, str, str]], kind: str) -> list[str]:
    return [f"{kind}-{i}-{topic}" for i, (topic, _, _) in enumerate(rows, 1)]


@pytest.mark.parametrize(("topic", "text", "changed"), TYPOS + SURFACE,
                         ids=ids(TYPOS, "typo") + ids(SURFACE, "surface"))
def test_topic_is_invariant(predictor: Predictor, topic: str, text: str, changed: str) -> None:
    before, after = predict(predictor, text), predict(predictor, changed)
    assert before.topic.label == topic, before.topic
    assert after.topic.label == topic, after.topic


@pytest.mark.parametrize(("topic", "text", "changed"), TYPOS, ids=ids(TYPOS, "typo"))
def test_relevance_survives_typos(predictor: Predictor, topic: str, text: str, changed: str) -> None:
    """Misspelled rule words (`дароге`, `прабили`) still match the monitoring rules the relevance head leans on."""
    assert predict(predictor, text).relevant.label is True
    after = predict(predictor, changed)
    assert after.relevant.label is True, (after.relevant, after.rules)


@pytest.mark.parametrize(("topic", "text", "changed"), SURFACE, ids=ids(SURFACE, "surface"))
def test_relevance_is_invariant_to_surface_changes(predictor: Predictor, topic: str, text: str,
                                                   changed: str) -> None:
    before, after = predict(predictor, text), predict(predictor, changed)
    assert before.relevant.label is True, before.relevant
    assert after.relevant.label is True, after.relevant


# --- direction --------------------------------------------------------------------------------------

MANAGING_COMPANY = "управляющая компания не реагирует"


def agency_share(prediction: Prediction, agency: str) -> tuple[float, float]:
    """Bounds of the probability of `agency`: exact when it is the label, else at most 1 - the label's."""
    if prediction.agency.label == agency:
        return prediction.agency.score, prediction.agency.score
    return 0.0, 1.0 - prediction.agency.score


HEATING = [
    "Уже октябрь, а отопления в доме всё нет.",
    "В квартире холодные батареи, отопление так и не дали,",
    "Батареи чуть тёплые, дома 16 градусов,",
    "Радиаторы холодные, в комнатах сыро и зябко.",
]


@pytest.mark.parametrize("heating", HEATING, ids=[f"heating-{i}" for i in range(1, len(HEATING) + 1)])
def test_managing_company_moves_heating_toward_housing_inspection(predictor: Predictor, heating: str) -> None:
    before = predict(predictor, heating.rstrip(".,"))
    after = predict(predictor, f"{heating} {MANAGING_COMPANY}")
    assert before.topic.label == after.topic.label == "housing"
    _, before_high = agency_share(before, "housing_inspection")
    after_low, _ = agency_share(after, "housing_inspection")
    assert after.agency.label == "housing_inspection", after.agency
    assert after_low > before_high, (before.agency, after.agency)


PITS = "На улице Ленина огромные ямы, машины бьют подвеску"
LIGHTS = "Во дворе не горят фонари, вечером темно"


@pytest.mark.parametrize(
    ("place_free", "with_place", "oktmo"),
    [
        pytest.param(PITS, "В Кунгуре на улице Ленина огромные ямы, машины бьют подвеску", "57722000", id="kungur"),
        pytest.param(PITS, "В Чайковском на улице Ленина огромные ямы, машины бьют подвеску", "57735000",
                     id="chaykovsky"),
        pytest.param(PITS, "В Лысьве на улице Ленина огромные ямы, машины бьют подвеску", "57726000", id="lysva"),
        pytest.param(PITS, "На улице Ленина огромные ямы, машины бьют подвеску, Березники", "57708000",
                     id="berezniki"),
        pytest.param(LIGHTS, "В Перми во дворе не горят фонари, вечером темно", "57701000", id="perm"),
        pytest.param(LIGHTS, "На Гайве во дворе не горят фонари, вечером темно", "57701000", id="perm-gayva"),
        pytest.param(LIGHTS, "В Чусовом во дворе не горят фонари, вечером темно", "57758000", id="chusovoy"),
        pytest.param(LIGHTS, "В Добрянке во дворе не горят фонари, вечером темно", "57718000", id="dobryanka"),
    ],
)
def test_place_name_sets_the_municipality_and_its_administration(
    predictor: Predictor, perm: Region, place_free: str, with_place: str, oktmo: str
) -> None:
    before, after = predict(predictor, place_free), predict(predictor, with_place)
    assert before.municipality is None
    assert after.municipality is not None and after.municipality.oktmo == oktmo, after.municipality
    assert after.municipality.name == perm.municipality(oktmo).name
    assert after.topic.label == before.topic.label
    assert before.agency.label == after.agency.label == "municipality"
    assert after.body == perm.municipality(oktmo).body


# --- minimum functionality --------------------------------------------------------------------------

COMPLAINT_ROWS = [
    ("housing", "В доме на Коминтерна батареи ледяные уже неделю, дети спят в куртках"),
    ("housing", "Из крана течёт ржавая вода, управляйка на звонки не отвечает"),
    ("housing", "Крыша протекает, после каждого дождя в подъезде потоп"),
    ("housing", "В подвале нашего дома стоит вода по колено, канализацию прорвало, вонь по всему подъезду"),
    ("housing", "Лифт в нашем доме стоит уже месяц, пожилые соседи не могут спуститься с девятого этажа"),
    ("housing", "В квартире холодные батареи, отопление так и не дали"),
    ("housing", "Батареи чуть тёплые, дома 16 градусов", "relevance 0.00 < 0.72"),
    ("improvement", "На нашей улице не горит ни один фонарь, вечером идти страшно"),
    ("improvement", "Тротуар превратился в каток, никто не посыпает песком, люди падают",
     "topic culture_sport 0.66 (a rink), improvement 0.30"),
    ("improvement", "Детская площадка во дворе сломана, качели висят на одной цепи"),
    ("roads", "На дороге возле остановки огромная яма, уже два колеса пробили"),
    ("roads", "Светофор на перекрёстке не работает третий день, чуть не случилось ДТП"),
    ("roads", "Дорогу к деревне не чистят от снега, скорая не может проехать"),
    ("transport", "Автобус номер 12 опять не пришёл, ждали на остановке сорок минут"),
    ("transport", "Пригородная электричка отменена без предупреждения, люди не могут добраться до работы"),
    ("transport", "На остановке нет павильона, ждём автобус под дождём"),
    ("transport", "Водитель маршрутки курит в салоне и хамит пассажирам", "relevance 0.49 < 0.62"),
    ("transport", "Маршрут 45 сократили, теперь автобус ходит раз в час и набит битком"),
    ("health", "В поликлинике невозможно записаться к терапевту, талонов нет на месяц вперёд"),
    ("health", "В фельдшерском пункте нет фельдшера уже полгода, за лекарствами ездим в район"),
    ("health", "Скорая ехала к бабушке полтора часа"),
    ("education", "Ребёнку не дают место в детском саду, очередь не двигается два года"),
    ("education", "В школе кормят отвратительно, дети приходят голодные"),
    ("education", "В детском саду в группе холодно, дети сидят в колготках и кофтах"),
    ("social", "Многодетной семье третий год не выделяют земельный участок"),
    ("social", "Детские пособия не приходят уже третий месяц, в соцзащите отвечают отписками"),
    ("social", "Инвалиду-колясочнику невозможно выйти из дома, пандуса в подъезде нет"),
    ("waste", "Контейнеры переполнены, мусор не вывозят уже десять дней, крысы бегают"),
    ("waste", "Регоператор выставил счёт за вывоз мусора, хотя у нас его никто не вывозит"),
    ("waste", "Свалка за городом снова горит, весь район в едком дыму"),  # burning landfills are waste
    ("ecology", "С завода опять несёт химией, ночью дышать невозможно"),
    ("ecology", "В лесу за посёлком вырубают деревья без всякого разрешения"),
    ("gas", "В подъезде сильно пахнет газом, аварийка не едет"),
    ("gas", "Обещали провести газ в деревню ещё пять лет назад, до сих пор топим дровами"),
    ("power", "Третий раз за неделю отключают свет, холодильник уже сгорел"),
    ("power", "Напряжение в сети скачет, лампочки мигают, техника ломается"),
    ("construction", "Стройка рядом с домом работает по ночам, сваи забивают до двух часов"),
    ("construction", "Мы дольщики, дом должны были сдать три года назад, застройщик исчез"),
    ("safety", "Заброшенное здание у школы, там собираются наркоманы, подростки лазают внутрь"),
    ("safety", "По ночам во дворе собирается пьяная компания, орут и бьют бутылки", "relevance 0.61 < 0.62"),
    ("safety", "Стая бродячих собак у садика, дети боятся выходить на прогулку"),
    ("safety", "Во дворе стая бездомных собак кидается на детей"),
    ("telecom", "В деревне нет мобильной связи, чтобы позвонить, надо идти на холм"),
    ("telecom", "Цифровое телевидение не показывает, антенна не ловит ни один канал"),
    ("telecom", "Интернет в селе пропадает каждый вечер, работать удалённо невозможно"),
    ("culture_sport", "Дом культуры в селе закрыли, детям некуда ходить на кружки"),
    ("culture_sport", "Стадион в аварийном состоянии, трибуны разваливаются, дети тренируются в грязи"),
    ("trade", "Ларёк у школы торгует алкоголем по ночам, под окнами пьяные крики"),
    ("trade", "В магазине продают просроченную молочку, продавец на жалобы только смеётся",
     "relevance 0.42 < 0.62"),
    ("trade", "В кафе отравились всей семьёй, продавали несвежую шаурму", "relevance 0.34 < 0.62"),
    ("trade", "На рынке обвешивают покупателей, весы явно подкручены", "relevance 0.12 < 0.72"),
    ("other", "На кладбище нет воды для полива, кран сломан уже месяц"),
    ("other", "Почту не приносят уже две недели, почтальона нет, посылки лежат на почте"),
    ("other", "В МФЦ очереди по три часа, электронная запись не работает"),
]

NOT_COMPLAINTS = [
    "Всем доброе утро! Хорошего дня и отличного настроения",
    "С днём рождения, дорогая подруга! Счастья и здоровья",
    "Кто знает хороший сериал на вечер? Посоветуйте",
    "Какой сегодня чудесный закат над Камой",
    "Смотрели вчера хоккей всей семьёй, отличная игра",
    "Ребята, кто-нибудь видел рыжего кота на Вышке? Потерялся вчера вечером",
    "Поехали с друзьями на рыбалку на Каму, клевало отлично",
    # ads
    "Продаю детскую коляску в отличном состоянии, недорого, пишите в личку",
    "Скидки до 50% на все окна ПВХ! Звоните прямо сейчас",
    "Продаётся квартира с новыми батареями и свежим ремонтом, звоните",
    # news and official announcements
    "Сегодня в Перми прошёл фестиваль уличной еды, пришли тысячи гостей",
    "Губернатор провёл совещание по подготовке к отопительному сезону",
    "Сегодня в школе прошёл выпускной, поздравляем всех выпускников!",
    # praise
    "Огромное спасибо врачам больницы за внимательное отношение к моей маме",
    "Спасибо дорожникам, улицу отремонтировали быстро и качественно",
]




def test_every_topic_has_two_plain_complaints(predictor: Predictor) -> None:
    topics = [row[0] for row in COMPLAINT_ROWS]
    assert {t: topics.count(t) for t in predictor.bundle.taxonomy.topics if topics.count(t) < 2} == {}


@pytest.mark.parametrize(("topic", "text"), table(COMPLAINT_ROWS))
def test_plain_complaint_is_relevant_with_its_topic(predictor: Predictor, topic: str, text: str) -> None:
    p = predict(predictor, text)
    assert p.relevant.label is True, p.relevant
    assert p.topic.label == topic, p.topic


@pytest.mark.parametrize("text", NOT_COMPLAINTS)
def test_plain_non_complaint_is_not_relevant(predictor: Predictor, text: str) -> None:
    p = predict(predictor, text)
    assert p.relevant.label is False, p.relevant


def test_phrases_are_not_from_the_corpus() -> None:
    texts = {t for _, a, b in TYPOS + SURFACE for t in (a, b)}
    texts |= {row[1] for row in COMPLAINT_ROWS} | set(NOT_COMPLAINTS)
    ours = [Example(id=f"behaviour-{i}", text=t, relevant=None) for i, t in enumerate(sorted(texts))]
    copies = near_duplicates(ours, read_corpus(ANNOTATIONS / "corpus"))
    assert [(a.text, b.id) for a, b, _ in copies] == []
