"""The demo store: customers, orders, returns and refunds behind a `CustomerDirectory`."""
