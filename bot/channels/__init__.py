"""Rasa input channels of the product (registered in credentials.yml by module path)."""
