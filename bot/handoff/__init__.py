"""Handing conversations to people: the queue, the desk, offline tickets and ratings."""
