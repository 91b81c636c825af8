"""The company's brand for the web app's pages and the widget, from the company profile (company.yml).

- `GET /brand.css`: the brand colour as the CSS variables the desk, the knowledge workspace and the insights
  pages use (`--brand`, `--brand-ink`); a stylesheet, so the pages' strict content security policy (no inline
  styles) holds. The colour is validated by bot/company.py (#rrggbb only), so nothing else reaches the CSS.
- `GET /brand/logo`: the profile's logo file.
- `GET /api/brand`: the names, colour, logo and links as JSON, for the desk's scripts and the widget on host pages
  that do not configure it themselves; public, as all of it is on the company's website anyway.
"""
from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse, Response

from bot.company import CompanyProfile

# the widget runs on the company's own pages, another origin: it may read the brand and show the logo
PUBLIC_HEADERS = {"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}


def widget_brand(company: CompanyProfile, web_url: str) -> dict:
    """What the widget shows of the company: its header title, its first message, colour, logo and privacy link."""
    brand = {
        "title": f"{company.short_name} support",
        "greeting": (f"Hello, I am {company.assistant_name}, {company.short_name}'s virtual assistant. I can help with an "
                     "order, a return, or any of our products." if company.tone == "formal" else
                     f"Hi! I'm {company.assistant_name}, {company.short_name}'s virtual assistant. Ask me about an order, "
                     "a return, or any of our products."),
        "colors": {"primary": company.brand_colour},
    }
    if company.logo:
        brand["logo"] = f"{web_url}/brand/logo"
    if company.links.privacy:
        brand["privacyUrl"] = company.links.privacy
    return brand


def brand_document(company: CompanyProfile, web_url: str) -> dict:
    return {
        "name": company.name,
        "short_name": company.short_name,
        "assistant_name": company.assistant_name,
        "desk_title": f"{company.short_name} desk",
        "colour": company.brand_colour,
        "ink": company.ink_colour,
        "logo_url": f"{web_url}/brand/logo" if company.logo else None,
        "support_email": company.support_email,
        "links": {"privacy": company.links.privacy or None, "returns_policy": company.links.returns_policy or None},
        "widget": widget_brand(company, web_url),
    }


def add_brand_routes(app: FastAPI, company: CompanyProfile, web_url: str) -> None:
    """The brand's stylesheet, logo and JSON document."""

    @app.get("/brand.css", include_in_schema=False)
    def brand_css() -> Response:
        css = f":root {{ --brand: {company.brand_colour}; --brand-ink: {company.ink_colour}; }}\n"
        return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/brand/logo", include_in_schema=False)
    def brand_logo() -> FileResponse:
        if company.logo is None:
            raise HTTPException(404, "this company profile has no logo")
        return FileResponse(company.logo, media_type=company.logo_type, headers=PUBLIC_HEADERS)

    @app.get("/api/brand", tags=["brand"], summary="The company's names, brand colour, logo and links (company.yml)")
    def brand() -> JSONResponse:
        return JSONResponse(brand_document(company, web_url), headers=PUBLIC_HEADERS)
