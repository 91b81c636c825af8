"""The composition root: builds the services from settings. Nothing else constructs them."""
from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from bot.store.directory import CustomerDirectory, SqlCustomerDirectory
from bot.store.service import OrderService


@dataclass(frozen=True)
class Services:
    settings: Settings
    directory: CustomerDirectory
    orders: OrderService


def build_services(settings: Settings) -> Services:
    directory = SqlCustomerDirectory.from_url(settings.store_db_url)
    directory.create_schema()
    return Services(settings=settings, directory=directory, orders=OrderService(directory))
