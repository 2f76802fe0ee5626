"""Names, fixed tables and the roster of estates and zones for layers/generate_demo.py.

Only the four estate names the housing bureau's letter of 2021-07-20 cites (临山小区, 江南小区,
福泉小区, 八一小区), the office names and the mining group's mine names are real; every other name,
address and assignment here is made up to look plausible. The generated data are illustrative
(示例数据).
"""

# (code, name, kind): the five urban street offices first, then the four towns.
OFFICES = [
    ("lincheng", "临城街道", "street"),
    ("changzhuang", "常庄街道", "street"),
    ("jushan", "巨山街道", "street"),
    ("xincheng", "新城街道", "street"),
    ("xingcheng", "兴城街道", "street"),
    ("shagou", "沙沟镇", "town"),
    ("zhouying", "周营镇", "town"),
    ("zouwu", "邹坞镇", "town"),
    ("taozhuang", "陶庄镇", "town"),
]

# Roads used for addresses and zone names, per office (Xuecheng names its north-south roads after
# mountains and its east-west roads after rivers).
ROADS = {
    "临城街道": ["泰山路", "黄河路", "长江路", "临山路", "燕山路", "珠江路", "淮河路", "光明路", "德仁路",
                 "永福路", "铁道路", "兴仁路"],
    "常庄街道": ["武夷山路", "衡山路", "嵩山路", "常庄路", "恒山路", "华山路", "泰和路", "昌盛路", "金河路"],
    "巨山街道": ["巨山路", "庐山路", "黄山路", "天山路", "沙河路", "福泉路", "建设路"],
    "新城街道": ["长白山路", "太行山路", "祁连山路", "昆仑山路", "峨眉山路", "海河路", "闽江路", "湘江路"],
    "兴城街道": ["兴城路", "奚仲路", "牛山路", "龙潭路", "松江路"],
    "沙沟镇": ["沙沟路", "车站路", "向阳路"],
    "周营镇": ["周营路", "湖滨路", "振兴路"],
    "邹坞镇": ["邹坞路", "府前路", "文化路"],
    "陶庄镇": ["陶庄路", "矿建路", "工人路"],
}

# Batch 2014-2018 (13 estates): (name, street office, batch year).
OLD_BATCH = [
    ("临山小区", "临城街道", 2014),
    ("八一小区", "临城街道", 2014),
    ("江南小区", "常庄街道", 2015),
    ("福泉小区", "巨山街道", 2015),
    ("光明小区", "临城街道", 2015),
    ("德仁小区", "临城街道", 2016),
    ("永福小区", "临城街道", 2016),
    ("黄河小区", "常庄街道", 2016),
    ("燕山小区", "新城街道", 2017),
    ("长江小区", "常庄街道", 2017),
    ("民生小区", "巨山街道", 2017),
    ("兴仁小区", "兴城街道", 2018),
    ("铁路小区", "新城街道", 2018),
]

# Batch 2019, utilities hand-over of Zaozhuang Mining Group (枣矿集团) living areas: 23 estates.
MINING_PROGRAMME = "三供一业（枣矿集团）"
MINING_AREAS = [
    ("枣矿集团机关生活区", "临城街道"),
    ("枣矿集团中心医院生活区", "临城街道"),
    ("枣矿集团物资供销公司生活区", "临城街道"),
    ("枣矿集团柴里煤矿薛城生活区", "常庄街道"),
    ("枣矿集团蒋庄煤矿薛城生活区", "常庄街道"),
    ("枣矿集团付村煤业薛城生活区", "常庄街道"),
    ("枣矿集团铁路运输处生活区", "常庄街道"),
    ("枣矿集团高庄煤业薛城生活区", "巨山街道"),
    ("枣矿集团田陈煤矿薛城生活区", "巨山街道"),
    ("枣矿集团新安煤业薛城生活区", "兴城街道"),
    ("枣矿集团滨湖煤矿薛城生活区", "兴城街道"),
    ("枣矿集团机电修造厂生活区", "新城街道"),
    ("枣矿集团陶庄煤矿生活区", "陶庄镇"),
    ("枣矿集团陶庄煤矿二生活区", "陶庄镇"),
    ("枣矿集团甘霖实业生活区", "陶庄镇"),
    ("枣矿集团山家林煤矿生活区", "陶庄镇"),
    ("枣矿集团八一煤矿生活区", "邹坞镇"),
    ("枣矿集团八一煤矿二生活区", "邹坞镇"),
    ("枣矿集团朱子埠煤矿生活区", "邹坞镇"),
    ("枣矿集团朱子埠煤矿二生活区", "邹坞镇"),
    ("枣矿集团木石煤矿生活区", "沙沟镇"),
    ("枣矿集团水电处生活区", "沙沟镇"),
    ("枣矿集团建安公司生活区", "周营镇"),
]

# Batch 2019, China Railway Jinan Group housing section (济南房建公寓段): one staff living area.
RAILWAY_PROGRAMME = "三供一业（济南房建公寓段）"
RAILWAY_ESTATE = ("济南房建公寓段薛城职工生活区", "临城街道")

# Not yet scheduled: small scattered estates (零星小区).
UNSCHEDULED = [
    ("区供销社宿舍", "兴城街道"),
    ("区粮油加工厂家属院", "兴城街道"),
    ("区塑料厂宿舍", "新城街道"),
    ("区石油公司宿舍", "巨山街道"),
    ("沙沟镇政府家属院", "沙沟镇"),
    ("周营镇供销社宿舍", "周营镇"),
    ("陶庄镇卫生院家属院", "陶庄镇"),
    ("邹坞镇农机站宿舍", "邹坞镇"),
]

# Stems for "<stem>小区 / 花园 / 新村" names of the 2020 and 2021 batches.
NAME_STEMS = [
    "泰山", "珠江", "淮河", "衡山", "嵩山", "武夷", "昌盛", "富民", "安居", "康乐", "祥和", "丰收",
    "红旗", "胜利", "团结", "朝阳", "向阳", "青年", "工人", "东风", "前进", "华山", "恒山", "庐山",
    "天山", "黄山", "泰和", "金河", "福兴", "北苑", "南苑", "西苑", "东苑", "鑫源", "惠民", "怡和",
    "嘉和", "瑞丰", "府前", "学院", "车站", "铁东", "铁西", "沙河", "凤鸣", "翠屏", "紫荆", "桂花",
    "牡丹", "丁香", "玉兰", "海棠", "石榴", "奚仲", "龙潭", "金桥", "银河", "阳光", "东方", "新华",
    "人民", "文化", "建设", "和平", "幸福", "振兴", "利民", "永安", "春晖", "育才", "绿景", "馨园",
    "福园", "清泉", "枣园", "荣华", "新兴", "康宁", "华兴", "友谊", "星火", "翠园", "锦绣", "美林",
]
STEM_SUFFIXES = ["小区", "小区", "小区", "花园", "新村"]

# Work units for "<unit>宿舍 / 家属院" names (staff housing of the 1980s-1990s).
UNITS = [
    "区粮食局", "区人民医院", "薛城电厂", "区供电公司", "区水利局", "区教育局", "区交通局", "区建筑公司",
    "区物资局", "区税务局", "区邮电局", "区建设银行", "区化肥厂", "区水泥厂", "区棉纺厂", "区啤酒厂",
    "区机械厂", "区造纸厂", "区玻璃厂", "区法院", "区检察院", "区公安局", "区卫生局", "区农机公司",
    "区商业局", "区百货公司", "区外贸公司", "区食品公司", "区酒厂", "区印刷厂", "区自来水公司",
    "区农业银行", "区工商银行", "区人民银行", "区财政局", "区民政局", "区城建局", "区环卫处", "区房管所",
    "区二轻局", "区纺织厂", "区五金厂", "区服装厂", "区油棉厂", "区电影公司", "区中医院", "区妇幼保健院",
    "区职业中专", "区气象站", "区烟草公司", "区保险公司", "区运输公司", "区电业局", "区广播站",
    "区计生委", "区审计局", "区统计局", "区劳动局", "区粮管所", "区蔬菜公司",
]
UNIT_SUFFIXES = ["宿舍", "家属院"]


def name_pool(rng) -> list[str]:
    """A shuffled pool of unique plausible estate names for the 2020 and 2021 batches."""
    pool = [s + str(rng.choice(STEM_SUFFIXES)) for s in NAME_STEMS]
    pool += [u + str(rng.choice(UNIT_SUFFIXES)) for u in UNITS]
    return [str(n) for n in rng.permutation(pool)]


# --- the roster: which estates and zones exist, with their names -----------------------------

def split_count(total: int, n: int, lo: int, hi: int, rng) -> list[int]:
    """n random sizes in [lo, hi] summing to total (zone member counts)."""
    sizes = [lo] * n
    for _ in range(total - lo * n):
        sizes[int(rng.choice([i for i in range(n) if sizes[i] < hi]))] += 1
    return sizes


def plan_zones(rng) -> list[dict]:
    """The 20 zones of 2020 and the 5 of 2021, with office, member count and road name."""
    roads = {o: list(rng.permutation(r)) for o, r in ROADS.items()}
    plans = [(2021, ["临城街道"] * 2 + ["常庄街道"] * 2 + ["新城街道"], split_count(65, 5, 10, 17, rng)),
             (2020, ["临城街道"] * 8 + ["巨山街道"] * 6 + ["常庄街道"] * 6, split_count(58, 20, 2, 5, rng))]
    zones = []
    for batch, offices, sizes in plans:
        for i, (office, size) in enumerate(zip(offices, sizes), start=1):
            road = roads[office].pop(0)
            zones.append(dict(code=f"XC-Z-{batch}-{i:02d}", name=f"{office}{road}片区", street_office=office,
                              batch=batch, _size=size, _road=road))
    return zones


def plan_estates(zones, rng) -> list[dict]:
    """One record per estate with group, office, zone, batch and programme (no numbers yet)."""
    def rec(group, name, office, batch=None, programme=None, zone=None):
        return dict(_group=group, name=name, street_office=office, zone=zone, batch=batch, programme=programme)

    estates = [rec("2014-2018", n, o, y) for n, o, y in OLD_BATCH]
    estates += [rec("2019 mining", n, o, 2019, MINING_PROGRAMME) for n, o in MINING_AREAS]
    estates.append(rec("2019 railway", *RAILWAY_ESTATE, 2019, RAILWAY_PROGRAMME))
    pool = name_pool(rng)
    for year in (2020, 2021):
        for z in (z for z in zones if z["batch"] == year):
            estates += [dict(rec(str(year), pool.pop(), z["street_office"], year, None, z["code"]), _zone=z)
                        for _ in range(z["_size"])]
    estates += [rec("unscheduled", n, o) for n, o in UNSCHEDULED]
    for i, e in enumerate(estates, start=1):
        e["code"] = f"XC-E-{i:03d}"
    return estates


# --- tables of the generator --------------------------------------------------------------------

# Urban offices grow from a cloud of Voronoi seeds around these points (km east, km north of the
# centre); towns take every seed beyond the urban radius, labelled by the nearest anchor (lon, lat).
URBAN_CLOUDS = {"临城街道": (0.3, 0.0), "常庄街道": (-4.0, 0.6), "巨山街道": (-0.8, -3.6),
                "新城街道": (4.6, -1.8), "兴城街道": (3.0, 3.2)}
TOWN_ANCHORS = {"沙沟镇": (117.31, 34.72), "周营镇": (117.43, 34.67), "邹坞镇": (117.43, 34.88),
                "陶庄镇": (117.29, 34.89)}

# Per group of estates: exact or target totals from the letter of 2021-07-20, and plausible
# per-estate ranges. hh_m2 = floor area per household, bld_m2 = floor area per building,
# cost = 万元 per m² of floor area, built = year built, funding = mean shares of (subsidy, district,
# town, utility, residents). The unscheduled group makes up the district totals (~38,000
# households, ~3.5 million m²).
GROUPS = {
    "2014-2018": dict(floor=650_000, households=10_318, investment=9_316.0, hh_m2=(52, 75),
                      bld_m2=(3000, 5000), built=(1972, 1992), funding=(0.22, 0.44, 0.14, 0.12, 0.08)),
    "2019 mining": dict(floor=516_840, households=5_736, cost=(0.013, 0.018), hh_m2=(75, 105),
                        bld_m2=(2500, 4500), built=(1976, 1998), funding=(0.35, 0.15, 0.05, 0.45, 0.0)),
    "2019 railway": dict(floor=62_480, households=1_062, cost=(0.014, 0.016), hh_m2=(55, 65),
                         bld_m2=(3000, 4000), built=(1984, 1996), funding=(0.35, 0.15, 0.05, 0.45, 0.0)),
    "2020": dict(floor=1_386_420, households=11_645, cost=(0.015, 0.021), hh_m2=(95, 145),
                 bld_m2=(3000, 6000), built=(1980, 2000), funding=(0.50, 0.24, 0.10, 0.12, 0.04)),
    "2021": dict(floor=761_350, households=7_447, buildings=311, investment=15_060.0, hh_m2=(85, 120),
                 built=(1984, 2004), funding=(0.48, 0.24, 0.12, 0.12, 0.04)),
    "unscheduled": dict(floor=148_900, households=1_900, hh_m2=(65, 90), bld_m2=(2000, 4000),
                        built=(1988, 2005)),
}
PROGRESS_2021 = 75.0  # "已完成工程总量的75%", weighted by floor area
# Renovation items in the order works usually happen, so a half-done estate has its pipes first.
WORK_ORDER = ["illegal_structures", "pipes", "meter_water", "meter_power", "meter_heating", "roads",
              "parking", "street_lights", "security", "facade", "greening", "public_toilets"]
