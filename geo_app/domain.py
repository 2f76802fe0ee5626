"""The renovation domain: status stages, renovation items, funding sources and other vocabularies.

Codes are English and stable (they are stored, filtered on and exported); labels are the words a
user reads, Chinese first. The stages follow the Xuecheng housing bureau's letter of 2021-07-20:
an estate is not yet scheduled, then planned in a batch, under construction (with tracking audit),
completed, and finally accepted by the housing bureau, finance bureau and street office.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One entry of a controlled vocabulary: a stored code and its labels."""

    code: str
    zh: str
    en: str
    color: str = ""

    def label(self, locale: str = "zh") -> str:
        """The label in the given locale ("zh" or "en"); Chinese is the fallback."""
        return self.en if locale == "en" else self.zh


class Vocabulary:
    """An ordered set of terms, looked up by code."""

    def __init__(self, name: str, terms: list[Term]):
        self.name = name
        self.terms = tuple(terms)
        self._by_code = {t.code: t for t in terms}
        # Every way a user may write a term: its code, its Chinese label, its English one (any case).
        self._by_spelling = {s: t.code for t in terms for s in (t.code, t.zh, t.en.casefold())}

    def __iter__(self):
        return iter(self.terms)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Term:
        return self._by_code[code]

    def code_of(self, text: str) -> str | None:
        """The code a user means by a code or a Chinese/English label (已完工, Completed), or None."""
        return self._by_spelling.get(text) or self._by_spelling.get(text.casefold())

    def codes(self) -> list[str]:
        """All codes, in display order."""
        return [t.code for t in self.terms]

    def label(self, code: str | None, locale: str = "zh") -> str:
        """The label of a code, or the code itself when it is unknown (never raises on display)."""
        term = self._by_code.get(code or "")
        return term.label(locale) if term else (code or "")


# Colours run from grey (nothing done) through blue and orange to greens (done), so a planner reads
# progress from the map at a glance; they stay distinguishable for common colour-vision deficiencies.
RENOVATION_STATUS = Vocabulary(
    "status",
    [
        Term("unscheduled", "未纳入计划", "Not yet scheduled", "#9e9e9e"),
        Term("planned", "已列入计划", "Planned", "#1e88e5"),
        Term("under_construction", "施工中", "Under construction", "#fb8c00"),
        Term("completed", "已完工", "Completed", "#7cb342"),
        Term("accepted", "已验收", "Accepted", "#1b5e20"),
    ],
)

RENOVATION_ITEMS = Vocabulary(
    "renovation_item",
    [
        Term("roads", "道路", "Roads"),
        Term("parking", "停车位", "Parking"),
        Term("street_lights", "路灯", "Street lights"),
        Term("security", "安防监控", "Security / CCTV"),
        Term("pipes", "雨污管网", "Rain & sewage pipes"),
        Term("greening", "绿化", "Greening"),
        Term("public_toilets", "公厕", "Public toilets"),
        Term("facade", "楼体粉刷", "Facade repainting"),
        Term("illegal_structures", "拆违", "Demolition of illegal structures"),
        Term("meter_water", "一户一表（供水）", "One meter per household: water"),
        Term("meter_power", "一户一表（供电）", "One meter per household: power"),
        Term("meter_heating", "一户一表（供暖）", "One meter per household: heating"),
    ],
)

# Cost sharing as the letter describes it; each source is one column in 万元 (10,000 yuan).
FUNDING_SOURCES = Vocabulary(
    "funding_source",
    [
        Term("inv_subsidy", "中央及省级奖补", "Central & provincial subsidy"),
        Term("inv_district", "区级财政", "District budget"),
        Term("inv_town", "镇街财政", "Town / street-office budget"),
        Term("inv_utility", "专营单位", "Utility companies"),
        Term("inv_residents", "居民出资", "Residents"),
    ],
)

MANAGEMENT_MODES = Vocabulary(
    "management_mode",
    [
        Term("property_company", "物业服务企业", "Property-management company"),
        Term("owners_committee", "业主委员会自治", "Owners' committee self-management"),
        Term("community_fallback", "社区兜底", "Community fallback"),
        Term("self_managed", "业主自治", "Owners' self-management"),
    ],
)

OFFICE_KINDS = Vocabulary(
    "office_kind",
    [Term("street", "街道", "Street office"), Term("town", "镇", "Town")],
)

FACILITY_KINDS = Vocabulary(
    "facility_kind",
    [
        Term("public_toilet", "公厕", "Public toilet", "#6d4c41"),
        Term("parking_lot", "停车场", "Parking lot", "#3949ab"),
    ],
)

# An inspector's overall judgement of an estate on the day (巡查结论).
INSPECTION_VERDICTS = Vocabulary(
    "verdict",
    [
        Term("pass", "合格", "Pass", "#2e7d32"),
        Term("issues", "存在问题", "Issues found", "#f9a825"),
        Term("fail", "不合格", "Fail", "#c62828"),
    ],
)

# What an inspector saw of one renovation item (the checklist of an inspection).
CHECKLIST_STATES = Vocabulary(
    "checklist_state",
    [
        Term("done", "已完成", "Done"),
        Term("in_progress", "施工中", "In progress"),
        Term("problem", "有问题", "Problem"),
    ],
)

VOCABULARIES: dict[str, Vocabulary] = {
    v.name: v
    for v in (
        RENOVATION_STATUS,
        RENOVATION_ITEMS,
        FUNDING_SOURCES,
        MANAGEMENT_MODES,
        OFFICE_KINDS,
        FACILITY_KINDS,
        INSPECTION_VERDICTS,
        CHECKLIST_STATES,
    )
}
