"""Proactive messages: order events, follow-ups and nudges the assistant sends before the customer asks."""
