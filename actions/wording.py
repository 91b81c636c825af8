"""Words several topics share, so they say the same thing in one place."""

# Where a person can be reached (docs/demo-store.md); issue 4 replaces this with a live handoff.
TEAM_CONTACT = ("support@brightwave.example, or chat Monday–Friday 8:00–20:00 and Saturday 9:00–17:00 Eastern.")
