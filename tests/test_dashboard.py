"""The dashboard page and its Excel download, through Flask's test client (demo data loaded)."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from shapely.geometry import box, mapping
from werkzeug.http import parse_options_header

from geo_app.core.report_excel import stats_workbook
from geo_app.core.stats import estate_stats
from geo_app.domain import FUNDING_SOURCES, RENOVATION_STATUS

HOSTILE = "<img src=x onerror=alert(1)>"


class TableReader(HTMLParser):
    """Rows of the dashboard's tables: table id -> row label -> data-col -> cell text."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self._table = self._row = self._col = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "stats-table" in (attrs.get("class") or ""):
            self._table = self.tables.setdefault(attrs["id"], {})
        elif tag == "tr" and self._table is not None and "data-label" in attrs:
            self._row = self._table.setdefault(attrs["data-label"], {})
        elif tag == "td" and self._row is not None and "data-col" in attrs:
            self._col = attrs["data-col"]
            self._row[self._col] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._col = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._col is not None:
            self._row[self._col] += data.strip()


def tables_of(html: str) -> dict:
    reader = TableReader()
    reader.feed(html)
    return reader.tables


def page(client, query: str = "") -> str:
    response = client.get("/dashboard" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def workbook(client, query: str = ""):
    response = client.get("/dashboard.xlsx" + query)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.data))


def sheet_rows(sheet) -> tuple[int, list, dict[str, tuple]]:
    """The header row number, its headings and the rows below it keyed by their first cell."""
    header_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 2).value in ("小区数", "Estates"))
    headings = [c.value for c in sheet[header_row]]
    rows = {str(row[0].value): row for row in sheet.iter_rows(min_row=header_row + 1)}
    return header_row, headings, rows


def test_dashboard_shows_the_letters_figures(client):
    html = page(client)
    batch = tables_of(html)["table-batch"]
    assert batch["2021"]["estates"] == "65"
    assert batch["2021"]["households"] == "7,447"
    assert batch["2021"]["buildings"] == "311"
    assert batch["2021"]["progress_pct"] == "75.0%"
    assert (batch["2020"]["estates"], batch["2020"]["households"]) == ("58", "11,645")
    assert batch["2019 三供一业（枣矿集团）"]["estates"] == "23"
    assert batch["合计"]["estates"] == "168"
    offices = tables_of(html)["table-street-office"]
    assert {"临城街道", "常庄街道", "巨山街道", "新城街道"} <= set(offices)
    assert sum(int(r["estates"]) for label, r in offices.items() if label != "合计") == 168
    assert "示例数据" in html
    assert 'data-card="estates">168<' in html
    assert 'id="dashboard-data"' in html and 'type="application/json"' in html


def test_dashboard_is_linked_from_every_page_and_loads_chart_js_from_the_app(client):
    assert 'href="/dashboard"' in page(client, "") and 'href="/dashboard"' in client.get("/").get_data(as_text=True)
    html = page(client)
    assert re.search(r'<script src="/vendor/chart\.js/dist/chart\.umd\.js[?"]', html)
    assert set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html)) == set()  # no CDN


def test_filters_narrow_the_tables(client):
    html = page(client, "?street_office=临城街道")
    assert 'name="street_office" value="临城街道" checked' in html  # the form shows the filter
    tables = tables_of(html)
    assert set(tables["table-street-office"]) == {"临城街道", "合计"}
    expected = client.get("/api/stats?group_by=batch&street_office=临城街道").get_json()["total"]
    assert tables["table-batch"]["合计"]["estates"] == str(expected["estates"])
    assert int(tables["table-batch"]["合计"]["estates"]) < 168

    html = page(client, "?batch=2021&status=under_construction")
    batch = tables_of(html)["table-batch"]
    assert set(batch) == {"2021", "合计"}
    assert batch["2021"]["estates"] == batch["2021"]["status-under_construction"] != "0"
    assert batch["2021"]["status-completed"] == "0"
    assert "施工中" in html.split('class="filtered-by"', 1)[1].split("</p>", 1)[0]


def test_english_on_request(client):
    html = page(client, "?lang=en")
    assert "By batch" in html and "By street office" in html and "Download Excel" in html
    assert "Households" in html and "Under construction" in html
    assert "按批次" not in html
    assert tables_of(html)["table-batch"]["Total"]["estates"] == "168"
    assert "按批次" in page(client, "?lang=zh")


def test_hostile_street_office_and_programme_are_escaped(app, client):
    with app.extensions["geo_app.store"].transaction() as w:
        w.insert("estates", [{"properties": {"code": "EVIL", "name": HOSTILE, "street_office": HOSTILE,
                                             "programme": HOSTILE, "batch": 2022, "status": "planned",
                                             "households": 10},
                              "geometry": mapping(box(117.40, 34.70, 117.401, 34.701))}])
    html = page(client)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text, in both tables
    data = html.split('id="dashboard-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and "\\u003cimg" in data  # tojson escapes < inside the JSON block
    assert HOSTILE in tables_of(html)["table-street-office"]
    _, _, rows = sheet_rows(workbook(client)["街道"])
    assert rows[HOSTILE][1].value == 1


def test_excel_holds_the_page_figures_with_chinese_headers(client):
    book = workbook(client)
    assert book.sheetnames == ["批次", "街道"]
    sheet = book["批次"]
    header_row, headings, rows = sheet_rows(sheet)
    assert headings[:6] == ["批次", "小区数", "户数", "楼栋数", "建筑面积（m²）", "投资（万元）"]
    assert all(f"{t.zh}（万元）" in headings for t in FUNDING_SOURCES)
    assert all(any(h.startswith(t.zh) for h in headings) for t in RENOVATION_STATUS)
    assert sheet.freeze_panes == f"B{header_row + 1}"
    assert all(c.font.b for c in sheet[header_row])
    column = {h: i for i, h in enumerate(headings)}
    r2021 = rows["2021"]
    assert [r2021[column[h]].value for h in ("小区数", "户数", "楼栋数")] == [65, 7447, 311]
    progress = r2021[column["进度（%，按建筑面积加权）"]]
    assert progress.value == pytest.approx(0.75) and progress.number_format == "0.0%"
    assert r2021[column["户数"]].number_format == "#,##0"
    assert r2021[column["建筑面积（m²）"]].number_format == "#,##0.0"
    assert [rows["2020"][column[h]].value for h in ("小区数", "户数")] == [58, 11645]
    assert rows["合计"][1].value == 168 and rows["合计"][0].font.b
    top = " ".join(str(c.value) for row in sheet.iter_rows(max_row=header_row - 1) for c in row if c.value)
    assert "示例数据" in top and "2021-07-20" in top and "数据版本" in top
    # The page and the workbook agree on every batch's households.
    shown = tables_of(page(client))["table-batch"]
    assert {k: int(v["households"].replace(",", "")) for k, v in shown.items()} == \
           {k: r[column["户数"]].value for k, r in rows.items()}
    assert sheet.column_dimensions["A"].width >= 2 * len("2019 三供一业（济南房建公寓段）") - 5


def test_filtered_excel_exports_what_the_page_shows(client):
    _, _, rows = sheet_rows(workbook(client, "?street_office=临城街道")["街道"])
    assert set(rows) == {"临城街道", "合计"}
    book = workbook(client, "?lang=en&batch=2021")
    assert book.sheetnames == ["Batch", "Street office"]
    _, headings, rows = sheet_rows(book["Batch"])
    assert set(rows) == {"2021", "Total"} and headings[1] == "Estates"


def test_excel_filename_decodes_to_chinese(client):
    response = client.get("/dashboard.xlsx?lang=zh")
    disposition = response.headers["Content-Disposition"]
    disposition.encode("ascii")  # a header must be ASCII; the Chinese name rides in filename*
    assert unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)) == "薛城区改造统计_2021-07-20.xlsx"
    assert 'filename="xuecheng-renovation-stats_2021-07-20.xlsx"' in disposition
    kind, options = parse_options_header(disposition)
    assert kind == "attachment" and options["filename"] == "薛城区改造统计_2021-07-20.xlsx"


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard.xlsx"])
@pytest.mark.parametrize("query, parameter", [("batch=abc", "batch"), ("status=nope", "status"),
                                              ("batch=1800", "batch"), ("bbox=1,2,3", "bbox")])
def test_bad_filters_are_400(client, path, query, parameter):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert parameter in response.get_data(as_text=True)


def test_workbook_keeps_formula_like_text_as_text(demo_store):
    table = estate_stats(demo_store, "street_office")
    table["rows"][0]["label"] = '=HYPERLINK("http://example.invalid","x")'
    book = load_workbook(io.BytesIO(stats_workbook([table], "zh", "标题", "2021-07-20")))
    _, _, rows = sheet_rows(book["街道"])
    cell = rows['=HYPERLINK("http://example.invalid","x")'][0]
    assert cell.data_type == "s"
