"""The demo store's products and carriers (names as in docs/demo-store.md)."""
from __future__ import annotations

from typing import Dict, NamedTuple


class Product(NamedTuple):
    name: str
    price_cents: int


PRODUCTS: Dict[str, Product] = {
    "BW-P700": Product("Pulse 700 Wireless Headphones", 34999),
    "BW-P300": Product("Pulse 300 On-Ear Headphones", 12999),
    "BW-WB1": Product("Wavelet Buds", 7999),
    "BW-WBP": Product("Wavelet Buds Pro", 17999),
    "BW-BOOM": Product("Boom Mini Bluetooth Speaker", 5999),
    "BW-HALO": Product("Halo Home Smart Speaker", 12999),
    "BW-OWS2": Product("Orbit Watch S2", 29999),
    "BW-OBAND": Product("Orbit Band Fitness Tracker", 7999),
    "BW-NT10": Product("Nova Tab 10 tablet", 44999),
    "BW-BBA14": Product("Brightbook Air 14 laptop", 99999),
    "BW-GLOW2": Product("Glow Smart Bulb (2-pack)", 2999),
    "BW-CAM2K": Product("Sentry Cam 2K security camera", 8999),
    "BW-HUB": Product("Brightwave Hub", 6999),
    "BW-PC65": Product("PowerCube 65W USB-C Charger", 4999),
    "BW-VDOCK": Product("VoltDock Wireless Charging Pad", 3999),
    "BW-CABLE2": Product("Brightwave USB-C Cable (2 m)", 1499),
}

TRACKING_URLS: Dict[str, str] = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
}


def tracking_url(carrier: str, tracking_number: str) -> str:
    return TRACKING_URLS.get(carrier, "{}").format(tracking_number)
