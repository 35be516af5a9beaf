"""Reader for the Perm Krai citizen-appeals CSV (`Исполнитель;Группа тем;Текст инцидента;Тема`).

Every row is an appeal that was answered, so every row is relevant. Its topic groups and bodies
map to our codes by the tables below; a group or body missing from a table is left unscored
(None) rather than guessed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from training.corpus import CorpusError, Example

TOPIC_GROUPS: dict[str, str] = {
    "Благоустройство": "improvement",
    "ЖКХ": "housing",
    "Дороги": "roads",
    "Общественный транспорт": "transport",
    "Здравоохранение/Медицина": "health",
    "Коронавирус": "health",
    "Образование": "education",
    "Социальное обслуживание и защита": "social",
    "Мусор/Свалки/ТКО": "waste",
    "Экология": "ecology",
    "Газ и топливо": "gas",
    "Электроснабжение": "power",
    "Строительство и архитектура": "construction",
    "Безопасность": "safety",
    "Связь и телевидение": "telecom",
    "Культура": "culture_sport",
    "Физическая культура и спорт": "culture_sport",
    "Памятники и объекты культурного наследия": "culture_sport",
    "Торговля": "trade",
    "Экономика и бизнес": "trade",
    "Роспотребнадзор": "trade",
    "МФЦ \"Мои документы\"": "other",
    "Погребение и похоронное дело": "other",
    "Государственная собственность": "other",
    "Мобилизация": "other",
    "Спецпроекты": "other",
}

# body -> (agency code, OKTMO of the municipality when the body is a municipal administration)
EXECUTORS: dict[str, tuple[str, str | None]] = {
    "АО ПРО ТКО": ("waste_operator", None),
    "ИГЖН ПК": ("housing_inspection", None),
    "Министерство здравоохранения": ("health_ministry", None),
    "Министерство образования": ("education_ministry", None),
    "Министерство социального развития ПК": ("social_ministry", None),
    "Город Пермь": ("municipality", "57701000"),
    "Губахинский городской округ": ("municipality", "57717000"),
    "Лысьвенский городской округ": ("municipality", "57726000"),
    "Александровский муниципальный округ Пермского края": ("municipality", "57502000"),
    "Бардымский муниципальный округ Пермского края": ("municipality", None),
}

COLUMNS = ("Исполнитель", "Группа тем", "Текст инцидента", "Тема")


def read_promobot(path: Path) -> list[Example]:
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(
                f"{path}: not a promobot CSV: missing column(s) {', '.join(missing)}; "
                f"expected a ';'-separated header {';'.join(COLUMNS)}"
            )
        out = []
        for n, row in enumerate(reader, 2):
            text = (row.get("Текст инцидента") or "").strip()
            if not text:
                continue
            agency, _ = EXECUTORS.get((row.get("Исполнитель") or "").strip(), (None, None))
            out.append(
                Example(
                    id=f"promobot-{n}",
                    text=text,
                    relevant=True,
                    topic=TOPIC_GROUPS.get((row.get("Группа тем") or "").strip()),
                    agency=agency,
                    split="test",
                    source=f"{path}:{n}",
                )
            )
    return out
