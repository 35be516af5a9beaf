"""Region directories: both regions load, Perm Krai has its real bodies and municipalities, the
default jurisdiction routes like DESIGN.md, and a broken file says which entry to fix."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from model.doc import analyze
from model.jurisdiction import Jurisdiction
from model.lemma import Lemmatizer
from model.region import MUNICIPALITY, Region, RegionError, load_region, load_regions
from model.taxonomy import Taxonomy

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "annotations" / "regions"
CITIES = ROOT.parent / "shared" / "data" / "cities" / "city.csv"

# The codes the corpus uses (annotations/corpus): the directory must keep every one of them.
PERM_MUNICIPALITIES = {
    "57701000": "Пермь",
    "57708000": "Березники",
    "57730000": "Соликамск",
    "57735000": "Чайковский",
    "57722000": "Кунгур",
    "57726000": "Лысьва",
    "57720000": "Краснокамск",
    "57758000": "Чусовой",
    "57718000": "Добрянка",
    "57717000": "Губаха",
    "57721000": "Кудымкар",
    "57728000": "Оса",
    "57727000": "Нытва",
    "57712000": "Верещагино",
    "57714000": "Горнозаводск",
    "57715000": "Гремячинск",
    "57719000": "Кизел",
    "57729000": "Оханск",
    "57762000": "Очёр",
    "57760000": "Красновишерск",
    "57756000": "Чердынь",
    "57757000": "Чернушка",
    "57759000": "Ильинский",
    "57502000": "Александровск",
}
# Formations whose centre is not a city, so the city reference has no row for them; their codes
# come from the sources cited next to each entry in perm-krai.yaml.
PERM_BEYOND_CITY_REFERENCE = {
    "57731000": "Суксунский городской округ",
    "57524000": "Кишертский муниципальный округ",
    "57761000": "Октябрьский городской округ",
    "57506000": "Березовский муниципальный округ",
}


def test_both_regions_load(regions: dict[str, Region]) -> None:
    assert set(regions) == {"perm-krai", "sverdlovsk-oblast", "kursk-oblast"}
    for region in regions.values():
        assert region.timezone == ("Europe/Moscow" if region.code == "kursk-oblast" else "Asia/Yekaterinburg")
        assert region.sla_hours == 24
        assert region.default_agency == MUNICIPALITY
    assert len(regions["sverdlovsk-oblast"].municipalities) >= 10


def test_perm_municipalities_keep_the_corpus_codes(perm: Region) -> None:
    assert {m.oktmo: m.name for m in perm.municipalities} == PERM_MUNICIPALITIES | PERM_BEYOND_CITY_REFERENCE
    assert len(perm.municipalities) >= 25


@pytest.mark.skipif(not CITIES.exists(), reason="the shared city reference is not on this machine")
@pytest.mark.parametrize("code", ["perm-krai", "sverdlovsk-oblast"])
def test_codes_agree_with_the_city_reference(regions: dict[str, Region], code: str) -> None:
    # The 8-digit code of a municipality is the prefix of its centre's OKTMO in the reference.
    with CITIES.open(encoding="utf-8") as fh:
        prefixes = {row["oktmo"][:8] for row in csv.DictReader(fh)}
    for m in regions[code].municipalities:
        if m.oktmo not in PERM_BEYOND_CITY_REFERENCE:
            assert m.oktmo in prefixes, f"{m.name}: {m.oktmo} is not in {CITIES.name}"


@pytest.mark.parametrize(
    ("place", "oktmo"),
    [
        ("Усолье", "57708000"),
        ("Мотовилиха", "57701000"),
        ("Гайва", "57701000"),
        ("Закамск", "57701000"),
        ("Свердловский район", "57701000"),
        ("Полазна", "57718000"),
        ("Чермоз", "57759000"),
        ("Кын", "57726000"),
        ("Теплая Гора", "57714000"),
        ("Марковский", "57735000"),
        ("Верх-Суксун", "57731000"),
        ("Усть-Кишерть", "57524000"),
        ("Молёбка", "57524000"),
        ("Сарс", "57761000"),
    ],
)
def test_settlements_belong_to_their_municipality(perm: Region, place: str, oktmo: str) -> None:
    assert place in perm.municipality(oktmo).settlements


@pytest.mark.parametrize(
    ("demonym", "oktmo"),
    [
        ("пермяк", "57701000"),
        ("березниковец", "57708000"),
        ("кунгурский", "57722000"),
        ("лысьвенский", "57726000"),
        ("суксунский", "57731000"),
        ("кишертский", "57524000"),
    ],
)
def test_demonyms_and_adjectives(perm: Region, demonym: str, oktmo: str) -> None:
    assert demonym in perm.municipality(oktmo).demonyms


def test_region_names_are_not_a_municipality(perm: Region) -> None:
    assert "Пермский край" in perm.aliases
    assert "Прикамье" in perm.aliases
    assert "Пермский район" in perm.non_municipal_names


@pytest.mark.parametrize(
    ("agency", "oktmo", "body"),
    [
        ("health_ministry", None, "Министерство здравоохранения Пермского края"),
        ("health_ministry", "57708000", "Министерство здравоохранения Пермского края"),
        ("housing_inspection", None, "Инспекция государственного жилищного надзора Пермского края"),
        ("safety_ministry", None, "Министерство территориальной безопасности Пермского края"),
        ("municipality", "57701000", "Администрация города Перми"),
        ("municipality", "57708000", "Администрация города Березники"),
        ("municipality", "57761000", "Администрация Октябрьского городского округа"),
        ("municipality", None, "Администрация муниципального образования Пермского края"),
    ],
)
def test_body_name(perm: Region, agency: str, oktmo: str | None, body: str) -> None:
    assert perm.body_name(agency, oktmo) == body


def test_every_agency_has_a_body(regions: dict[str, Region], taxonomy: Taxonomy) -> None:
    for region in regions.values():
        assert set(region.bodies) == set(taxonomy.agencies) - {MUNICIPALITY}


def test_unknown_codes_are_clear_key_errors(perm: Region) -> None:
    with pytest.raises(KeyError, match="no municipality with OKTMO '99999999'"):
        perm.municipality("99999999")
    with pytest.raises(KeyError, match="no body for agency 'mayor'"):
        perm.body_name("mayor", None)


# The default jurisdiction of DESIGN.md, post by post.
ROUTES = [
    ("на Гайве весь микрорайон без горячей воды третий день", "housing", "municipality"),
    ("в нашем доме батареи холодные, УК говорит ждите", "housing", "housing_inspection"),
    ("в подъезде течет крыша, никто не чинит", "housing", "housing_inspection"),
    ("фонд капремонта третий год переносит ремонт крыши", "housing", "housing_ministry"),
    ("когда расселят аварийный барак?", "housing", "housing_ministry"),
    ("во дворе нет ни одного фонаря", "improvement", "municipality"),
    ("дорога Пермь – Березники вся в ямах, трасса убита", "roads", "transport_ministry"),
    ("на улице Ленина яма на яме", "roads", "municipality"),
    ("отменили электричку до Кунгура", "transport", "transport_ministry"),
    ("троллейбус 5 ходит раз в час", "transport", "municipality"),
    ("контейнеры не вывозят неделю", "waste", "waste_operator"),
    ("за поселком свалка и ее подожгли", "waste", "ecology_ministry"),
    ("с завода опять воняет", "ecology", "ecology_ministry"),
    ("в садике холодно", "education", "education_ministry"),
    ("в поликлинике очередь на месяц", "health", "health_ministry"),
    ("детские выплаты не пришли", "social", "social_ministry"),
    ("стройка шумит ночью", "construction", "construction_ministry"),
    ("в деревне нет связи", "telecom", "digital_ministry"),
    ("библиотеку закрывают", "culture_sport", "culture_ministry"),
    ("лыжню не прокладывают на стадионе", "culture_sport", "sport_ministry"),
    ("паводок, дома подтопило, МЧС не видно", "safety", "safety_ministry"),
    ("бродячие собаки у школы", "safety", "municipality"),
    ("нет газа в доме", "gas", "municipality"),
    ("нет света третий день", "power", "municipality"),
    ("на кладбище не убирают", "other", "municipality"),
]


@pytest.fixture(scope="module")
def jurisdiction(perm: Region, lemmatizer: Lemmatizer) -> Jurisdiction:
    return Jurisdiction(perm, lemmatizer)


@pytest.mark.parametrize(("text", "topic", "agency"), ROUTES)
def test_default_jurisdiction(
    jurisdiction: Jurisdiction, lemmatizer: Lemmatizer, text: str, topic: str, agency: str
) -> None:
    [cues] = jurisdiction.cues(analyze([text], lemmatizer))
    assert jurisdiction.route(topic, cues)[0] == agency


# A broken copy of the real file must fail loading with the file, the entry and the fix.
def _broken(tmp_path: Path, change: object) -> Path:
    data = yaml.safe_load((REGIONS / "perm-krai.yaml").read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path = tmp_path / "perm-krai.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _set(path: str, value: object):  # type: ignore[no-untyped-def]
    def change(data: dict) -> None:  # type: ignore[type-arg]
        *keys, last = path.split("/")
        node = data
        for key in keys:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(key: str):  # type: ignore[no-untyped-def]
    return lambda data: data["bodies"].pop(key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("code", "perm"), r"code: 'perm' must equal the file name 'perm-krai'"),
        (_set("timezone", "Europe/Perm"), r"timezone: 'Europe/Perm' is not an IANA time zone"),
        (_set("sla_hours", -1), r"sla_hours: -1 must be a positive number"),
        (_set("bodies/mayor", {"name": "Мэр"}), r"bodies\.mayor: unknown agency 'mayor'"),
        (_drop("waste_operator"), r"bodies: no body for agencies \['waste_operator'\]"),
        (
            _set("municipalities/1/oktmo", "5770800"),
            r"municipalities\[1\] \(Березники\): oktmo '5770800' must be 8 digits",
        ),
        (_set("municipalities/1/oktmo", "57701000"), r"Березники\): oktmo 57701000 is listed twice"),
        (_set("municipalities/2/kind", "город"), r"Соликамск\): kind 'город' must be one of"),
        (
            _set("municipalities/2/settlements", ["Усолье"]),
            r"Соликамск\): 'Усолье' is also listed under Березники",
        ),
        (_set("municipalities/0/colour", "red"), r"municipalities\[0\] \(Пермь\): unknown keys \['colour'\]"),
        (_set("jurisdiction/default", "mayor"), r"jurisdiction\.default: unknown agency 'mayor'"),
        (
            _set("jurisdiction/rules/0/topics", ["potholes"]),
            r"jurisdiction rule 'health': unknown topic 'potholes'",
        ),
        (
            _set("jurisdiction/rules/1/agency", "school"),
            r"jurisdiction rule 'education': unknown agency 'school'",
        ),
        (
            _set("jurisdiction/rules/3/query", "(свалка OR полигон"),
            r"jurisdiction rule 'illegal-dump': query syntax error: .*\(at position \d+\)",
        ),
        (_set("jurisdiction/rules/2/id", "health"), r"jurisdiction rule 'health': this id is used twice"),
    ],
)
def test_broken_region_file_is_explained(
    tmp_path: Path, taxonomy: Taxonomy, change: object, message: str
) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(RegionError, match=message) as err:
        load_region(path, taxonomy)
    assert str(path) in str(err.value)


def test_not_yaml_and_missing_files(tmp_path: Path, taxonomy: Taxonomy) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("code: [", encoding="utf-8")
    with pytest.raises(RegionError, match="not valid YAML"):
        load_region(bad, taxonomy)
    with pytest.raises(RegionError, match="file not found"):
        load_region(tmp_path / "none.yaml", taxonomy)
    with pytest.raises(RegionError, match="no region files"):
        load_regions(tmp_path / "empty")


def test_taxonomy_defaults_to_the_one_next_to_the_regions() -> None:
    region = load_region(REGIONS / "perm-krai.yaml")
    assert region.code == "perm-krai"
