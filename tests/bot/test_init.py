"""`bot init DIR` (bot/scaffold.py): a new company's folder, valid as written, that runs the product on its own files."""
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.company import load_company
from bot.errors import ConfigurationError
from bot.handoff.rules import load_rules
from bot.knowledge.articles import load_articles
from bot.scaffold import scaffold
from bot.settings import PROJECT_ROOT, Settings


def make(folder: Path, **options) -> Path:
    scaffold(folder, **{"name": "Northwind Outfitters", "short_name": "Northwind", "assistant": "Aurora",
                        "colour": "#0f766e", "email": "help@northwind.example", "today": date(2026, 10, 6), **options})
    return folder


def test_the_folder_holds_the_companys_own_files(tmp_path: Path) -> None:
    folder = make(tmp_path / "northwind")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [".env", ".gitignore", "Makefile", "company.yml", "handoff.yml",
                     "knowledge_base/articles/contact-us.md", "logo.svg"]


def test_the_profile_is_valid_and_says_what_was_asked(tmp_path: Path) -> None:
    folder = make(tmp_path / "northwind", tone="formal")
    company = load_company(folder / "company.yml")
    assert (company.name, company.short_name, company.assistant_name) == ("Northwind Outfitters", "Northwind", "Aurora")
    assert (company.brand_colour, company.support_email, company.tone) == ("#0f766e", "help@northwind.example", "formal")
    assert company.front_page == "preview" and company.logo == (folder / "logo.svg").resolve()
    assert company.hours is not None and company.links.privacy == "https://northwind.example/privacy"
    assert "Northwind" not in (PROJECT_ROOT / "company.yml").read_text()  # the product's own profile is untouched
    logo = (folder / "logo.svg").read_text()
    assert 'fill="#0f766e"' in logo and ">N</text>" in logo


def test_the_help_centre_has_one_valid_example_article_in_the_companys_words(tmp_path: Path) -> None:
    folder = make(tmp_path / "northwind")
    articles, problems = load_articles(folder / "knowledge_base" / "articles")
    assert problems == [] and [a.id for a in articles] == ["contact-us"]
    article = articles[0]
    assert article.title == "Contact Northwind support" and article.status == "published"
    text = (folder / "knowledge_base" / "articles" / "contact-us.md").read_text()
    assert "help@northwind.example" in text and "Monday–Friday 9:00–17:00 (UTC)" in text
    assert "brightwave" not in text.lower()


def test_the_handoff_rules_are_the_products_and_take_the_companys_hours(tmp_path: Path) -> None:
    folder = make(tmp_path / "northwind")
    assert (folder / "handoff.yml").read_text() == (PROJECT_ROOT / "handoff.yml").read_text()
    rules = load_rules(folder / "handoff.yml", load_company(folder / "company.yml"))
    assert rules.hours.zone == "UTC" and rules.company_names == ("Northwind Outfitters", "Northwind")


@pytest.mark.parametrize("orders, expected", [("demo", {"ORDER_BACKEND": "sql"}),
                                              ("shopify", {"ORDER_BACKEND": "shopify", "SHOPIFY_SHOP": "",
                                                           "SHOPIFY_ACCESS_TOKEN": ""})])
def test_the_order_system_is_the_one_chosen(tmp_path: Path, orders: str, expected: dict) -> None:
    folder = make(tmp_path / orders, orders=orders)
    values = dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values == expected


def test_the_makefile_runs_the_product_on_the_folders_files(tmp_path: Path) -> None:
    folder = make(tmp_path / "northwind")
    # what `make run` there passes to the product: make's own expansion, printed instead of run
    printed = subprocess.run(["make", "-n", "-p", "run"], cwd=folder, capture_output=True, text=True, check=True).stdout
    assert f"$(MAKE) -C {PROJECT_ROOT} run" in printed or f"make -C {PROJECT_ROOT} run" in printed
    env = subprocess.run(["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "show"], cwd=folder,
                         input="show:\n\t@env\n", capture_output=True, text=True, check=True).stdout
    variables = dict(line.split("=", 1) for line in env.splitlines() if "=" in line)
    assert variables["COMPANY_PROFILE"] == f"{folder}/company.yml"
    assert variables["HANDOFF_CONFIG"] == f"{folder}/handoff.yml"
    assert variables["KB_ARTICLES_DIR"] == f"{folder}/knowledge_base/articles"
    assert variables["SUPPORT_DATA_DIR"] == f"{folder}/var" and variables["ORDER_BACKEND"] == "sql"
    settings = Settings.from_env(variables)  # the product reads them as they are
    assert settings.company_profile == folder / "company.yml" and settings.kb_articles_dir == folder / "knowledge_base" / "articles"


def test_a_folder_in_use_or_a_bad_profile_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="exists and is not empty"):
        make(tmp_path / "used")
    with pytest.raises(ConfigurationError, match="brand_colour"):
        make(tmp_path / "bad", colour="teal")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigurationError, match="--orders"):
        make(tmp_path / "other", orders="magento")


def test_the_command_prints_the_next_steps(tmp_path: Path, capsys) -> None:
    assert main(["init", str(tmp_path / "acme-outdoor"), "--orders", "shopify", "--colour", "#b45309"]) == 0
    said = capsys.readouterr().out
    assert "Created Acme Outdoor's support assistant" in said and "Next steps:" in said
    assert "SHOPIFY_SHOP and SHOPIFY_ACCESS_TOKEN" in said and "make run" in said
    company = load_company(tmp_path / "acme-outdoor" / "company.yml")
    assert company.support_email == "support@acme-outdoor.example" and company.assistant_name == "Acme Outdoor Assistant"
    assert main(["init", str(tmp_path / "acme-outdoor")]) == 2  # not twice
    assert "not empty" in capsys.readouterr().err


def test_bot_init_runs_from_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "init", str(tmp_path / "shop"), "--name", "Shop & Co"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((tmp_path / "shop" / "company.yml").read_text())["name"] == "Shop & Co"
