"""Dialogue policies of the project (Rasa components)."""
