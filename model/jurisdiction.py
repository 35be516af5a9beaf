"""A region's default jurisdiction: (post, topic) -> the body type that must answer.

The directory's rules are the prior; the agency head learns the exceptions from labels. The head
sees the rules through `features`, which name agencies rather than rule ids so that a model trained
on one region's directory reads another region's rules the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.doc import Doc
from model.lemma import Lemmatizer
from model.matcher import Matcher, Rule
from model.region import Region


class Jurisdiction:
    def __init__(self, region: Region, lemmatizer: Lemmatizer) -> None:
        self.region = region
        cues = [Rule(id=rule.id, query=rule.query) for rule in region.jurisdiction if rule.query is not None]
        self._matcher = Matcher(cues, lemmatizer)

    def cues(self, docs: Sequence[Doc]) -> list[frozenset[str]]:
        """Ids of the rules whose query matches each post, whatever its topic."""
        return [frozenset(m.rule_id for m in matches) for matches in self._matcher.match(docs)]

    def route(self, topic: str, cues: frozenset[str]) -> tuple[str, str | None]:
        """The first rule for this topic whose query matched (or that has none); else the default."""
        for rule in self.region.jurisdiction:
            if rule.topics and topic not in rule.topics:
                continue
            if rule.query is None or rule.id in cues:
                return rule.agency, rule.id
        return self.region.default_agency, None

    def features(self, docs: Sequence[Doc], topics: Sequence[str], agencies: Sequence[str]) -> np.ndarray:
        """Per post: one-hot of the routed agency, then one-hot of agencies whose cues matched."""
        index = {code: i for i, code in enumerate(agencies)}
        by_id = {rule.id: rule.agency for rule in self.region.jurisdiction}
        out = np.zeros((len(docs), 2 * len(agencies)), dtype=np.float32)
        for row, (topic, cues) in enumerate(zip(topics, self.cues(docs), strict=True)):
            routed, _ = self.route(topic, cues)
            if routed in index:
                out[row, index[routed]] = 1.0
            for rule_id in cues:
                if by_id[rule_id] in index:
                    out[row, len(agencies) + index[by_id[rule_id]]] = 1.0
        return out
