"""The company's brand in the web app (bot/web/brand.py, bot/web/widget.py): stylesheet, logo, JSON, front page."""
from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.company import load_company
from bot.settings import PROJECT_ROOT, Settings
from bot.web.brand import add_brand_routes
from bot.web.widget import front_page

PROFILE = {"name": "Acme <Outdoor> & Co", "short_name": "Acme", "assistant_name": "Scout", "brand_colour": "#0f766e",
           "support_email": "help@acme.example", "tone": "casual", "links": {"privacy": "https://acme.example/privacy"}}


def company_at(tmp_path: Path, **change):
    raw = {**PROFILE, **change}
    if "name" in raw and "<" in raw["name"]:
        raw["name"] = "Acme Outdoor & Co"  # names with angle brackets are refused by the loader; & is escaped
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    path = tmp_path / "company.yml"
    path.write_text(yaml.safe_dump(raw))
    return load_company(path)


def client_for(company) -> TestClient:
    app = FastAPI()
    add_brand_routes(app, company, "http://support.acme.example")
    return TestClient(app)


def test_the_stylesheet_carries_the_brand_colour_and_its_readable_ink(tmp_path: Path) -> None:
    css = client_for(company_at(tmp_path)).get("/brand.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.text == ":root { --brand: #0f766e; --brand-ink: #ffffff; }\n"


def test_the_brand_document_has_the_names_colour_and_links(tmp_path: Path) -> None:
    body = client_for(company_at(tmp_path, logo="logo.svg")).get("/api/brand").json()
    assert body["short_name"] == "Acme" and body["desk_title"] == "Acme desk" and body["colour"] == "#0f766e"
    assert body["logo_url"] == "http://support.acme.example/brand/logo"
    assert body["links"] == {"privacy": "https://acme.example/privacy", "returns_policy": None}
    assert body["widget"]["title"] == "Acme support" and "I'm Scout, Acme's virtual assistant" in body["widget"]["greeting"]


def test_the_logo_is_served_and_its_absence_is_a_404(tmp_path: Path) -> None:
    with_logo = client_for(company_at(tmp_path, logo="logo.svg")).get("/brand/logo")
    assert with_logo.status_code == 200 and with_logo.headers["content-type"] == "image/svg+xml"
    assert client_for(company_at(tmp_path)).get("/brand/logo").status_code == 404


def test_a_formal_company_greets_formally(tmp_path: Path) -> None:
    body = client_for(company_at(tmp_path, tone="formal")).get("/api/brand").json()
    assert body["widget"]["greeting"].startswith("Hello, I am Scout, Acme's virtual assistant.")


def test_the_front_page_of_a_new_company_is_its_preview_page_escaped(tmp_path: Path) -> None:
    company = company_at(tmp_path)
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "IDENTITY_SECRET": "s", "RASA_TOKEN": "t"})
    page = front_page(settings, company, None)
    assert "<title>Acme Outdoor &amp; Co: support assistant preview</title>" in page
    assert "Brightwave" not in page and "&quot;title&quot;: &quot;Acme support&quot;" in page
    assert "&quot;primary&quot;: &quot;#0f766e&quot;" in page


def test_the_shipped_demo_keeps_the_demo_store_page() -> None:
    company = load_company(PROJECT_ROOT / "company.yml")
    settings = Settings.from_env({"SUPPORT_DATA_DIR": "/tmp/unused-support-data", "IDENTITY_SECRET": "s", "RASA_TOKEN": "t"})
    page = front_page(settings, company, None)
    assert "demo store" in page and "&quot;title&quot;: &quot;Brightwave support&quot;" in page
